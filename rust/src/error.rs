//! The one error type of the crate. Every variant carries a [`Location`]: the file, the byte
//! offset, the line and column computed from it, and the element path where the reader was.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// Where in an input file something happened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub file: String,
    /// Byte offset from the start of the file.
    pub offset: u64,
    /// 1-based line; 0 when unknown.
    pub line: u64,
    /// 1-based column in characters; 0 when unknown.
    pub column: u64,
    /// Element path such as `models/mim[Lrat]/class[EUtranCellFDD]/attribute[tac]`.
    pub element: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)?;
        if !self.element.is_empty() {
            write!(f, " (in {})", self.element)?;
        }
        Ok(())
    }
}

/// What kind of failure an [`Error`] is; the bindings map each kind to a Python exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Io,
    Syntax,
    Encoding,
    Root,
    Value,
    /// A compressed file or archive that is corrupt, truncated, a decompression bomb, or
    /// whose member names are unsafe.
    Archive,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{loc}: cannot read the file: {message}")]
    Io { loc: Location, message: String },
    #[error("{loc}: malformed XML: {message}")]
    Syntax { loc: Location, message: String },
    #[error("{loc}: {message}")]
    Encoding { loc: Location, message: String },
    #[error("{loc}: root element is <{found}>, expected {expected}")]
    Root { loc: Location, found: String, expected: String },
    #[error("{loc}: {message}")]
    Value { loc: Location, message: String },
    /// Located by the input's name (`archive.zip!member.xml`) and, in the message, the
    /// compressed and decompressed byte offsets.
    #[error("{}: {message}", loc.file)]
    Archive { loc: Location, message: String },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } => ErrorKind::Io,
            Error::Syntax { .. } => ErrorKind::Syntax,
            Error::Encoding { .. } => ErrorKind::Encoding,
            Error::Root { .. } => ErrorKind::Root,
            Error::Value { .. } => ErrorKind::Value,
            Error::Archive { .. } => ErrorKind::Archive,
        }
    }

    pub fn location(&self) -> &Location {
        match self {
            Error::Io { loc, .. }
            | Error::Syntax { loc, .. }
            | Error::Encoding { loc, .. }
            | Error::Root { loc, .. }
            | Error::Value { loc, .. }
            | Error::Archive { loc, .. } => loc,
        }
    }

    fn location_mut(&mut self) -> &mut Location {
        match self {
            Error::Io { loc, .. }
            | Error::Syntax { loc, .. }
            | Error::Encoding { loc, .. }
            | Error::Root { loc, .. }
            | Error::Value { loc, .. }
            | Error::Archive { loc, .. } => loc,
        }
    }

    /// The file is in an encoding rtbfast does not read, named `encoding` (as declared, or
    /// as its first bytes show).
    pub fn unsupported_encoding(loc: Location, encoding: &str) -> Self {
        Error::Encoding {
            loc,
            message: format!(
                "unsupported encoding {encoding}; rtbfast reads UTF-8, US-ASCII and ISO-8859-1: convert the file \
                 first (e.g. iconv -t UTF-8)"
            ),
        }
    }

    pub fn io(file: &str, err: &std::io::Error) -> Self {
        Error::Io { loc: Location { file: file.to_string(), ..Location::default() }, message: err.to_string() }
    }

    /// Fill in line and column from the byte offset by reading the file once more.
    /// Errors are rare, so the cost of the second read is only paid when one happens.
    pub fn with_line_column(mut self, path: &Path) -> Self {
        if self.kind() == ErrorKind::Archive {
            // the decompressor failed or refused: reading the stream again would only repeat it
            return self;
        }
        let loc = self.location_mut();
        if loc.line == 0 {
            if let Some((line, column)) = line_columns(path, &[loc.offset]).into_iter().next() {
                loc.line = line;
                loc.column = column;
            }
        }
        self
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Move (line, column) past `part`. Columns count characters, not UTF-8 continuation bytes.
fn advance(part: &[u8], line: &mut u64, column: &mut u64) {
    let chars = |bytes: &[u8]| bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count() as u64;
    match part.iter().rposition(|&b| b == b'\n') {
        Some(last) => {
            *line += part.iter().filter(|&&b| b == b'\n').count() as u64;
            *column = 1 + chars(&part[last + 1..]);
        }
        None => *column += chars(part),
    }
}

/// Turn byte offsets into 1-based (line, column) pairs with one pass over the file (its
/// decompressed bytes, for a compressed input: see [`crate::input`]).
/// Columns count characters, assuming UTF-8 (in ISO-8859-1 every byte is a character,
/// and the markup the readers care about is ASCII in both).
pub fn line_columns(path: &Path, offsets: &[u64]) -> Vec<(u64, u64)> {
    let mut out = vec![(0u64, 0u64); offsets.len()];
    let Ok(input) = crate::input::Input::resolve(path) else { return out };
    if input.is_plain() {
        if let Ok(file) = File::open(&input.file) {
            scan_line_columns(BufReader::with_capacity(1 << 20, file), offsets, &mut out);
        }
    } else {
        let limits = crate::input::Limits::from_env();
        let _ = input.stream(limits, None, false, |reader| {
            scan_line_columns(reader, offsets, &mut out);
            Ok(())
        });
    }
    out
}

fn scan_line_columns(mut reader: impl Read, offsets: &[u64], out: &mut [(u64, u64)]) {
    let mut order: Vec<usize> = (0..offsets.len()).collect();
    order.sort_by_key(|&i| offsets[i]);
    let mut chunk = vec![0u8; 1 << 20];
    // `line` and `column` are the position of the byte at `pos` plus the part already scanned.
    let (mut pos, mut line, mut column) = (0u64, 1u64, 1u64);
    let mut next = 0usize;
    while next < order.len() {
        let n = match reader.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut start = 0usize;
        while next < order.len() && offsets[order[next]] < pos + n as u64 {
            let at = (offsets[order[next]] - pos) as usize;
            advance(&chunk[start..at], &mut line, &mut column);
            out[order[next]] = (line, column);
            start = at;
            next += 1;
        }
        advance(&chunk[start..n], &mut line, &mut column);
        pos += n as u64;
    }
    while next < order.len() {
        out[order[next]] = (line, column);
        next += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn offsets_become_lines_and_columns() {
        let dir = std::env::temp_dir().join(format!("rtbfast-lc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.xml");
        let mut f = File::create(&path).unwrap();
        f.write_all("ab\ncdé\nxyz".as_bytes()).unwrap();
        // offsets: a=0 b=1 \n=2 c=3 d=4 é=5,6 \n=7 x=8
        let got = line_columns(&path, &[8, 0, 4, 7, 99]);
        assert_eq!(got, vec![(3, 1), (1, 1), (2, 2), (2, 4), (3, 4)]);
    }
}
