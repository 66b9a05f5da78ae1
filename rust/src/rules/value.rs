//! Reading a value's text as its type, the way the generated Pydantic models read the same
//! text (Pydantic's lax mode), so the bulk evaluator and one object validated in Python reach
//! the same verdict.

/// `10^18`: numbers are compared as i128 scaled by it, like the catalog's decimal columns.
pub const SCALE: i128 = 1_000_000_000_000_000_000;

/// An integer as Pydantic reads it from text: surrounding whitespace, a sign, digits with
/// single `_` between them, and a fraction of zeros only (`12.0`). Returns `Err(())` when the
/// text is not an integer, `Ok(None)` when it is one too large for any range (it then fails
/// every range check, as it does in Python).
#[allow(clippy::result_unit_err)]
pub fn parse_integer(text: &str) -> Result<Option<i128>, ()> {
    let t = text.trim();
    let (negative, rest) = sign(t);
    let (int_part, frac) = match rest.find('.') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    if let Some(f) = frac {
        if !f.bytes().all(|b| b == b'0') {
            return Err(());
        }
    }
    let digits = digits_with_underscores(int_part).ok_or(())?;
    let mut value: i128 = 0;
    for d in digits.bytes() {
        match value.checked_mul(10).and_then(|v| v.checked_add((d - b'0') as i128)) {
            Some(v) if v <= i128::MAX / SCALE => value = v,
            _ => return Ok(None),
        }
    }
    Ok(Some(if negative { -value } else { value }))
}

/// A decimal number as Python's `Decimal` reads it (sign, digits with `_`, fraction,
/// exponent), scaled by 10^18, and its number of decimal places once trailing zeros are
/// dropped (what Pydantic's `decimal_places` counts). `None` when it is not a number or does
/// not fit 38 digits.
pub fn parse_decimal(text: &str) -> Option<(i128, u32)> {
    let t = text.trim();
    let (negative, rest) = sign(t);
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let int_digits = if int_part.is_empty() { String::new() } else { digits_with_underscores(int_part)? };
    let frac_digits = if frac_part.is_empty() { String::new() } else { digits_with_underscores(frac_part)? };
    let mut digits: Vec<u8> = int_digits.bytes().chain(frac_digits.bytes()).map(|b| b - b'0').collect();
    let mut exp = exponent - frac_digits.len() as i32; // value = digits * 10^exp
    while digits.len() > 1 && digits.last() == Some(&0) && exp < 0 {
        digits.pop();
        exp += 1;
    }
    let places = if exp < 0 { (-exp) as u32 } else { 0 };
    let mut shift = exp + 18;
    while shift < 0 {
        match digits.pop() {
            Some(0) => shift += 1,
            Some(_) => return None, // more than 18 places: cannot be compared exactly
            None => break,
        }
    }
    let mut value: i128 = 0;
    for d in digits {
        value = value.checked_mul(10)?.checked_add(d as i128)?;
    }
    for _ in 0..shift.max(0) {
        value = value.checked_mul(10)?;
    }
    Some((if negative { -value } else { value }, places))
}

/// A float as Python's `float()` reads it (Pydantic accepts the same texts, `inf` and `nan`
/// aside, which it accepts too).
pub fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim();
    let cleaned: String;
    let t = if t.contains('_') {
        let (negative, rest) = sign(t);
        let (m, e) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (ip, fp) = match m.find('.') {
            Some(i) => (&m[..i], Some(&m[i + 1..])),
            None => (m, None),
        };
        let ip = if ip.is_empty() { String::new() } else { digits_with_underscores(ip)? };
        let fp = match fp {
            Some(f) if !f.is_empty() => format!(".{}", digits_with_underscores(f)?),
            Some(_) => ".".to_string(),
            None => String::new(),
        };
        cleaned = format!("{}{ip}{fp}{e}", if negative { "-" } else { "" });
        cleaned.as_str()
    } else {
        t
    };
    t.parse::<f64>().ok()
}

/// A boolean as Pydantic reads it from text.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// Whether Python's `text.lstrip("-").isdigit()` holds (ASCII digits only).
pub fn is_digit_text(text: &str) -> bool {
    let rest = text.trim_start_matches('-');
    !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())
}

fn sign(t: &str) -> (bool, &str) {
    match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    }
}

/// ASCII digits with single underscores between them (`1_000`), without the underscores.
fn digits_with_underscores(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.is_empty() || !b[0].is_ascii_digit() || !b[b.len() - 1].is_ascii_digit() {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut previous_underscore = false;
    for &c in b {
        if c == b'_' {
            if previous_underscore {
                return None;
            }
            previous_underscore = true;
        } else if c.is_ascii_digit() {
            previous_underscore = false;
            out.push(c as char);
        } else {
            return None;
        }
    }
    Some(out)
}

/// A number scaled by 10^18, as text (`-140`, `0.25`).
pub fn scaled_to_string(v: i128) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    let int = a / SCALE as u128;
    let frac = a % SCALE as u128;
    if frac == 0 {
        format!("{sign}{int}")
    } else {
        let f = format!("{frac:018}");
        format!("{sign}{int}.{}", f.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_read_like_pydantic() {
        assert_eq!(parse_integer("12"), Ok(Some(12)));
        assert_eq!(parse_integer(" -12 "), Ok(Some(-12)));
        assert_eq!(parse_integer("+1_000"), Ok(Some(1000)));
        assert_eq!(parse_integer("12.00"), Ok(Some(12)));
        assert_eq!(parse_integer("12.5"), Err(()));
        assert_eq!(parse_integer("1e3"), Err(()));
        assert_eq!(parse_integer("1__0"), Err(()));
        assert_eq!(parse_integer(""), Err(()));
        assert_eq!(parse_integer("99999999999999999999999999999"), Ok(None));
    }

    #[test]
    fn decimals_count_places_without_trailing_zeros() {
        assert_eq!(parse_decimal("1.50"), Some((1_500_000_000_000_000_000, 1)));
        assert_eq!(parse_decimal("1.5E-1").map(|d| d.1), Some(2));
        assert_eq!(parse_decimal("1E+3"), Some((1000 * SCALE, 0)));
        assert_eq!(parse_decimal("-0.25"), Some((-SCALE / 4, 2)));
        assert_eq!(parse_decimal("abc"), None);
        assert_eq!(parse_decimal("."), None);
    }

    #[test]
    fn booleans_and_floats() {
        assert_eq!(parse_bool(" TRUE"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("2"), None);
        assert_eq!(parse_float("1_0.5"), Some(10.5));
        assert_eq!(parse_float("x"), None);
        assert_eq!(scaled_to_string(-140 * SCALE), "-140");
        assert_eq!(scaled_to_string(SCALE / 4), "0.25");
    }
}
