//! Zip archives: the members that are inputs, the names refused, one member read.
//!
//! A member is an input when its name ends in `.xml` (any case); every other file in the
//! archive is skipped with a warning naming it, folders are passed over. An archive is refused
//! whole when a member's name would leave it (`..`, absolute, a drive, a backslash, a NUL),
//! when two members share compressed bytes (the construction of the overlapping zip bomb), or
//! when an XML member is encrypted.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use zip::result::ZipError;
use zip::ZipArchive;

use super::{open_regular, warning, Compression, Counted, How, Input};
use crate::error::{Error, Location, Result};
use crate::xml::Warning;

/// The inputs a path holds, and the warnings about what was passed over.
#[derive(Debug, Default)]
pub struct Listing {
    pub inputs: Vec<Input>,
    pub warnings: Vec<Warning>,
}

/// Members named in messages before "and N more".
const NAMED: usize = 10;

fn archive_error(file: String, message: String) -> Error {
    Error::Archive { loc: Location { file, ..Location::default() }, message }
}

/// A zip library error opening or reading the archive `file`.
fn zip_error(file: &Path, member: Option<&str>, err: ZipError) -> Error {
    let name = match member {
        Some(m) => format!("{}!{m}", file.display()),
        None => file.display().to_string(),
    };
    let message = match err {
        ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED) => {
            "encrypted; rtbfast reads no encrypted member (unpack it first)".to_string()
        }
        ZipError::UnsupportedArchive(what) => {
            format!("unsupported zip archive: {what} (rtbfast reads members stored, deflated or bzip2-compressed)")
        }
        ZipError::Io(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("truncated zip archive: {err}")
        }
        other => format!("corrupt zip archive: {other}"),
    };
    archive_error(name, message)
}

/// Why a member's name is refused: one that an extraction would write outside its folder.
fn unsafe_name(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if name.is_empty() {
        Some("an empty name")
    } else if name.starts_with('/') {
        Some("an absolute path")
    } else if name.contains('\\') {
        Some("a backslash (a Windows path)")
    } else if name.contains('\0') {
        Some("a NUL character")
    } else if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        Some("a drive letter")
    } else if name.split('/').any(|part| part == "..") {
        Some("'..' (path traversal)")
    } else {
        None
    }
}

fn shown(names: &[String]) -> String {
    let mut text = names.iter().take(NAMED).map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ");
    if names.len() > NAMED {
        text.push_str(&format!(" and {} more", names.len() - NAMED));
    }
    text
}

fn open_archive<R: Read + Seek>(file: &Path, reader: R) -> Result<ZipArchive<R>> {
    ZipArchive::new(reader).map_err(|err| zip_error(file, None, err))
}

/// Refuse the archive when a member's name is unsafe or two members share compressed bytes.
fn check_archive<R: Read + Seek>(file: &Path, zip: &mut ZipArchive<R>) -> Result<()> {
    for name in zip.file_names() {
        if let Some(why) = unsafe_name(name) {
            return Err(archive_error(
                format!("{}!{name}", file.display()),
                format!("a member name with {why}; the archive is refused"),
            ));
        }
    }
    let mut ranges = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|err| zip_error(file, None, err))?;
        if entry.compressed_size() > 0 {
            ranges.push((entry.data_start(), entry.data_start().saturating_add(entry.compressed_size())));
        }
    }
    ranges.sort_unstable();
    if ranges.windows(2).any(|w| w[1].0 < w[0].1) {
        return Err(archive_error(
            file.display().to_string(),
            "members share compressed bytes (the construction of an overlapping zip bomb); the archive is refused"
                .into(),
        ));
    }
    Ok(())
}

fn is_xml_name(name: &str) -> bool {
    // bytes, not a str slice: a name may end in multi-byte characters (a fuzzed `a.╖╖╖`)
    let bytes = name.as_bytes();
    bytes.len() >= 4 && bytes[bytes.len() - 4..].eq_ignore_ascii_case(b".xml")
}

/// Every input `path` names: the file itself, or each XML member of a zip archive (in the
/// archive's order), with a warning for each other file passed over.
pub fn list(path: &Path) -> Result<Listing> {
    let input = Input::resolve_file(path)?;
    if input.compression != Compression::Zip || input.member.is_some() {
        return Ok(Listing { inputs: vec![input], warnings: Vec::new() });
    }
    let file = input.file;
    let name = file.display().to_string();
    let mut zip = open_archive(&file, open_regular(&file, &name)?)?;
    check_archive(&file, &mut zip)?;
    let mut listing = Listing::default();
    let mut others = Vec::new();
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|err| zip_error(&file, None, err))?;
        let member = entry.name().to_string();
        if entry.is_dir() {
            continue;
        }
        if !is_xml_name(&member) || entry.is_symlink() {
            let what = if entry.is_symlink() { "a symbolic link" } else { "not an XML file" };
            listing.warnings.push(warning(
                format!("{name}!{member}"),
                format!("{what} (rtbfast reads the members named *.xml); skipped"),
            ));
            others.push(member);
            continue;
        }
        if entry.encrypted() {
            return Err(zip_error(&file, Some(&member), ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED)));
        }
        listing.inputs.push(Input { file: file.clone(), member: Some(member), compression: Compression::Zip });
    }
    if listing.inputs.is_empty() {
        let held = if others.is_empty() { "nothing".to_string() } else { shown(&others) };
        return Err(archive_error(name, format!("a zip archive with no XML member (*.xml); it holds {held}")));
    }
    Ok(listing)
}

/// The one input `path` names, with the warnings about what its archive passes over; an
/// archive of several XML members is an error that names them.
pub fn one(path: &Path) -> Result<(Input, Vec<Warning>)> {
    let listing = list(path)?;
    if listing.inputs.len() == 1 {
        let mut inputs = listing.inputs;
        return Ok((inputs.remove(0), listing.warnings));
    }
    let names: Vec<String> = listing.inputs.iter().filter_map(|i| i.member.clone()).collect();
    Err(archive_error(
        path.display().to_string(),
        format!(
            "a zip archive of {} XML members ({}); each is an input of its own: name one as {}!MEMBER, or give \
             the archive to a command that reads many inputs (build, audit)",
            names.len(),
            shown(&names),
            path.display()
        ),
    ))
}

/// Check that the archive of `input` is sound and holds its member, a file.
pub(super) fn check_member(input: &Input) -> Result<()> {
    let name = input.file.display().to_string();
    let member = input.member.as_deref().unwrap_or_default();
    let mut zip = open_archive(&input.file, open_regular(&input.file, &name)?)?;
    check_archive(&input.file, &mut zip)?;
    let Some(index) = zip.index_for_name(member) else {
        let names: Vec<String> = zip.file_names().filter(|n| is_xml_name(n)).map(str::to_string).collect();
        return Err(archive_error(
            input.name(),
            format!("no member named {member:?} in {name}; its XML members: {}", shown(&names)),
        ));
    };
    let entry = zip.by_index_raw(index).map_err(|err| zip_error(&input.file, Some(member), err))?;
    if entry.is_dir() {
        return Err(archive_error(input.name(), "a folder in the archive, not a file".into()));
    }
    if entry.encrypted() {
        return Err(zip_error(&input.file, Some(member), ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED)));
    }
    Ok(())
}

/// The compressed size the archive gives for the member (for progress only: reads are
/// bounded by what is really read).
pub(super) fn compressed_size(input: &Input) -> Option<u64> {
    let file = File::open(&input.file).ok()?;
    let mut zip = ZipArchive::new(file).ok()?;
    let entry = zip.by_name(input.member.as_deref()?).ok()?;
    Some(entry.compressed_size())
}

/// Run `read` on the decompressed bytes of the member `input` names.
pub(super) fn stream_member<T>(
    input: &Input,
    counted: Counted<'_>,
    how: &How<'_>,
    read: impl FnOnce(&mut dyn Read) -> Result<T>,
) -> Result<T> {
    let member = input.member.as_deref().unwrap_or_default();
    let mut zip = open_archive(&input.file, counted)?;
    check_archive(&input.file, &mut zip)?;
    let index = zip.index_for_name(member).ok_or_else(|| {
        archive_error(input.name(), format!("no member named {member:?} in {}", input.file.display()))
    })?;
    let mut entry = zip.by_index(index).map_err(|err| zip_error(&input.file, Some(member), err))?;
    let start = how.compressed_so_far();
    how.run(&mut entry, start, read)
}

/// How the member's bytes lie in the archive where they can be cut: deflated (its deflate
/// stream, CRC and size) or stored (its bytes and CRC); `None` for a member compressed
/// otherwise or encrypted.
pub(super) fn member_framing(input: &Input) -> Result<Option<super::access::Framing>> {
    let name = input.file.display().to_string();
    let member = input.member.as_deref().unwrap_or_default();
    let mut zip = open_archive(&input.file, open_regular(&input.file, &name)?)?;
    let Some(index) = zip.index_for_name(member) else { return Ok(None) };
    let entry = zip.by_index_raw(index).map_err(|err| zip_error(&input.file, Some(member), err))?;
    if entry.encrypted() {
        return Ok(None);
    }
    let (start, len, crc, size) = (entry.data_start(), entry.compressed_size(), entry.crc32(), entry.size());
    Ok(match entry.compression() {
        zip::CompressionMethod::Deflated => Some(super::access::Framing::ZipDeflate { start, len, crc, size }),
        zip::CompressionMethod::Stored if len == size => Some(super::access::Framing::ZipStored { start, len, crc }),
        _ => None,
    })
}
