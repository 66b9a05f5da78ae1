//! Where an input's bytes come from: a plain file, a gzip or bzip2 file, or a member of a zip
//! archive. The format is told by the file's first bytes (magic), never by its name alone, and
//! compressed bytes are decompressed as they are read: nothing is written to disk and no more
//! than a window of the decompressed stream is held.
//!
//! An input is named by a path. A member of a zip archive is named `archive.zip!member.xml`
//! (the archive's path, `!`, the member's name as the archive writes it); that name is the
//! `file` of every table row, warning and error about it. A path naming a file that exists is
//! always that file, whatever characters it holds.
//!
//! Bounds (see [`Limits`]): a stream is refused once it has given more than
//! [`Limits::floor`] bytes (1 GiB) and more than [`Limits::ratio`] (200) times the compressed
//! bytes read so far; the counts are of the bytes really read and given, never the sizes an
//! archive's headers claim. Member names that leave the archive (`..`, an absolute path, a
//! drive, a backslash) refuse the whole archive. A corrupt or truncated stream is an
//! [`Error::Archive`] naming the input and the compressed and decompressed byte offsets.

pub mod access;
mod archive;
pub mod bz2;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Location, Result};
use crate::xml::{Progress, Warning};

pub use archive::{list, one, Listing};

/// How an input file's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Plain,
    Gzip,
    Bzip2,
    Zip,
}

impl Compression {
    /// The format the first bytes of a file show: gzip (`1f 8b`), bzip2 (`BZh1`..`BZh9`), zip
    /// (`PK` and a local header, an empty archive's end record or a spanned marker); anything
    /// else is plain. Formats rtbfast does not read are named in an error.
    pub fn sniff(head: &[u8]) -> std::result::Result<Compression, &'static str> {
        Ok(match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [b'B', b'Z', b'h', b'1'..=b'9', ..] => Compression::Bzip2,
            [b'P', b'K', 3, 4, ..] | [b'P', b'K', 5, 6, ..] | [b'P', b'K', 7, 8, ..] => Compression::Zip,
            [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => return Err("xz"),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => return Err("zstd"),
            [b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c, ..] => return Err("7-Zip"),
            [0x04, 0x22, 0x4d, 0x18, ..] => return Err("LZ4"),
            _ => Compression::Plain,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Compression::Plain => "plain",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Zip => "zip",
        }
    }
}

/// How far a compressed stream may grow: it is refused once it has given more than `floor`
/// bytes and more than `ratio` times the compressed bytes read so far. Real Bulk CM exports
/// and MP XML models compress 10 to 30 times; a zip bomb compresses a thousand times or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub ratio: u64,
    pub floor: u64,
}

/// The default [`Limits::ratio`].
pub const INFLATE_RATIO: u64 = 200;
/// The default [`Limits::floor`]: 1 GiB.
pub const INFLATE_FLOOR: u64 = 1 << 30;

impl Limits {
    /// The defaults, or `RTBFAST_INFLATE_RATIO` and `RTBFAST_INFLATE_FLOOR` (bytes) where set
    /// to a positive whole number.
    pub fn from_env() -> Limits {
        let var = |name: &str, default: u64| {
            std::env::var(name).ok().and_then(|v| v.trim().parse::<u64>().ok()).filter(|&v| v > 0).unwrap_or(default)
        };
        Limits {
            ratio: var("RTBFAST_INFLATE_RATIO", INFLATE_RATIO),
            floor: var("RTBFAST_INFLATE_FLOOR", INFLATE_FLOOR),
        }
    }

    fn exceeded(&self, given: u64, read: u64) -> bool {
        given > self.floor && given / read.max(1) > self.ratio
    }
}

/// One input: a file, plain or compressed, or one member of a zip archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The file on disk.
    pub file: PathBuf,
    /// The member of a zip archive, as the archive names it.
    pub member: Option<String>,
    pub compression: Compression,
}

/// Open `path` for reading, refusing what is not a regular file (a device such as `/dev/zero`
/// never ends, a pipe may block for ever).
pub fn open_regular(path: &Path, file_name: &str) -> Result<File> {
    let file = File::open(path).map_err(|err| Error::io(file_name, &err))?;
    let meta = file.metadata().map_err(|err| Error::io(file_name, &err))?;
    if !meta.is_file() {
        let what = if meta.is_dir() { "a folder" } else { "not a regular file (a device or pipe)" };
        return Err(Error::Io {
            loc: Location { file: file_name.to_string(), ..Location::default() },
            message: format!("{what}; rtbfast reads files"),
        });
    }
    Ok(file)
}

/// The archive and member a path of the form `archive.zip!member` names, when `path` itself
/// is no file: the first `!` whose left side is a regular file.
fn split_member(path: &Path) -> Option<(PathBuf, String)> {
    if path.symlink_metadata().is_ok() {
        return None;
    }
    let text = path.to_str()?;
    for (at, _) in text.match_indices('!') {
        let file = Path::new(&text[..at]);
        if file.is_file() {
            return Some((file.to_path_buf(), text[at + 1..].to_string()));
        }
    }
    None
}

impl Input {
    /// The name messages and tables give the input: the path, or `archive.zip!member`.
    pub fn name(&self) -> String {
        match &self.member {
            Some(m) => format!("{}!{m}", self.file.display()),
            None => self.file.display().to_string(),
        }
    }

    /// The input's name as a path, which [`Input::resolve`] resolves to this same input.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(self.name())
    }

    pub fn is_plain(&self) -> bool {
        self.compression == Compression::Plain
    }

    /// The one input `path` names: a file (its format from its first bytes), a member named
    /// `archive.zip!member`, or a zip archive holding exactly one XML member. An archive with
    /// several is several inputs ([`list`]); naming it alone is an error that lists them.
    pub fn resolve(path: &Path) -> Result<Input> {
        let input = Input::resolve_file(path)?;
        if input.compression == Compression::Zip && input.member.is_none() {
            return Ok(archive::one(path)?.0);
        }
        Ok(input)
    }

    /// The file (or member) `path` names, with its format; an archive named alone is the
    /// archive (`member` None).
    pub(crate) fn resolve_file(path: &Path) -> Result<Input> {
        let (file, member) = match split_member(path) {
            Some((file, member)) => (file, Some(member)),
            None => (path.to_path_buf(), None),
        };
        let name = file.display().to_string();
        let mut f = open_regular(&file, &name)?;
        let mut head = [0u8; 8];
        let mut n = 0;
        while n < head.len() {
            match f.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => return Err(Error::io(&name, &err)),
            }
        }
        let compression = Compression::sniff(&head[..n]).map_err(|format| Error::Archive {
            loc: Location { file: name.clone(), ..Location::default() },
            message: format!("{format}-compressed; rtbfast reads plain XML, gzip (.gz), bzip2 (.bz2) and zip files"),
        })?;
        match (compression, member) {
            (Compression::Zip, Some(member)) => {
                let input = Input { file, member: Some(member), compression };
                archive::check_member(&input)?;
                Ok(input)
            }
            (_, Some(member)) => Err(Error::Archive {
                loc: Location { file: format!("{name}!{member}"), ..Location::default() },
                message: format!(
                    "{name} is not a zip archive ({}), so it has no member {member:?}",
                    compression.label()
                ),
            }),
            (compression, None) => Ok(Input { file, member: None, compression }),
        }
    }

    /// The bytes the input takes on disk: the file's size, or the member's compressed size.
    pub fn stored_size(&self) -> u64 {
        match &self.member {
            Some(_) => archive::compressed_size(self).unwrap_or(0),
            None => std::fs::metadata(&self.file).map_or(0, |m| m.len()),
        }
    }

    /// Run `read` on the input's decompressed bytes, bounded by `limits`. `progress` (when
    /// given) counts the compressed bytes read. With `ahead`, a second thread decompresses
    /// while `read` parses (a few MiB held between them).
    pub fn stream<T>(
        &self,
        limits: Limits,
        progress: Option<&Progress>,
        ahead: bool,
        read: impl FnOnce(&mut dyn Read) -> Result<T>,
    ) -> Result<T> {
        let name = self.name();
        let file = open_regular(&self.file, &self.file.display().to_string())?;
        let counter = Arc::new(AtomicU64::new(0));
        let counted = Counted { inner: file, read: counter.clone(), progress };
        let how = How { name: &name, format: self.compression.label(), read: &counter, limits, ahead };
        match self.compression {
            Compression::Plain => how.run(&mut BufReader::with_capacity(1 << 16, counted), 0, read),
            Compression::Gzip => {
                how.run(&mut flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, counted)), 0, read)
            }
            Compression::Bzip2 => {
                how.run(&mut bzip2::read::MultiBzDecoder::new(BufReader::with_capacity(1 << 16, counted)), 0, read)
            }
            Compression::Zip => archive::stream_member(self, counted, &how, read),
        }
    }
}

/// How one stream is read: its name and format for messages, the count of compressed bytes,
/// the bounds, and whether a second thread decompresses ahead.
pub(crate) struct How<'a> {
    name: &'a str,
    format: &'static str,
    read: &'a AtomicU64,
    limits: Limits,
    ahead: bool,
}

impl How<'_> {
    /// Run `read` over `source`, bounded; `start`: compressed bytes read before it began.
    pub(crate) fn run<S: Read + Send, T>(
        &self,
        source: &mut S,
        start: u64,
        read: impl FnOnce(&mut dyn Read) -> Result<T>,
    ) -> Result<T> {
        let mut bounded = Bounded {
            inner: source,
            name: self.name,
            format: self.format,
            read: self.read,
            start,
            given: 0,
            limits: self.limits,
        };
        if self.ahead {
            read_ahead(&mut bounded, read)
        } else {
            read(&mut bounded)
        }
    }

    pub(crate) fn compressed_so_far(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }
}

/// A file that counts the bytes read from it (and adds them to `progress`).
pub(crate) struct Counted<'p> {
    inner: File,
    read: Arc<AtomicU64>,
    progress: Option<&'p Progress>,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(p) = self.progress {
            p.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

impl Seek for Counted<'_> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// What a decompressing read failed with: carried inside an `io::Error` up to the XML driver,
/// which makes it an [`Error::Archive`].
#[derive(Debug)]
pub struct ArchiveFault {
    pub message: String,
}

impl std::fmt::Display for ArchiveFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ArchiveFault {}

/// The decompressed stream, counted and bounded; an error of the decompressor gets the
/// compressed and decompressed offsets where it happened.
struct Bounded<'a, R: ?Sized> {
    inner: &'a mut R,
    name: &'a str,
    format: &'static str,
    /// Compressed bytes read from the file; `start` of them before this stream began.
    read: &'a AtomicU64,
    start: u64,
    given: u64,
    limits: Limits,
}

impl<R: Read + ?Sized> Bounded<'_, R> {
    fn compressed(&self) -> u64 {
        self.read.load(Ordering::Relaxed).saturating_sub(self.start)
    }
}

impl<R: Read + ?Sized> Read for Bounded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => return Err(err),
            Err(err) => {
                let what = if err.kind() == std::io::ErrorKind::UnexpectedEof {
                    "truncated".to_string()
                } else {
                    format!("corrupt {} data", self.format)
                };
                let message = format!(
                    "{what} at compressed byte {} (decompressed byte {}): {err}",
                    self.compressed(),
                    self.given
                );
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, ArchiveFault { message }));
            }
        };
        self.given += n as u64;
        if self.limits.exceeded(self.given, self.compressed()) {
            let message = format!(
                "refused as a decompression bomb: {} bytes from {} compressed bytes of {} (more than {} bytes and \
                 {} times the compressed size; RTBFAST_INFLATE_RATIO and RTBFAST_INFLATE_FLOOR set the bound)",
                self.given,
                self.compressed(),
                self.name,
                self.limits.floor,
                self.limits.ratio,
            );
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, ArchiveFault { message }));
        }
        Ok(n)
    }
}

/// Blocks handed from the decompressing thread to the parser.
const AHEAD_BLOCK: usize = 1 << 20;
/// Blocks in flight between them.
const AHEAD_BLOCKS: usize = 4;

/// Run `read` on the calling thread over what a second thread decompresses from `source`.
fn read_ahead<S: Read + Send, T>(source: &mut S, read: impl FnOnce(&mut dyn Read) -> Result<T>) -> Result<T> {
    let (send, receive) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(AHEAD_BLOCKS);
    std::thread::scope(|scope| {
        scope.spawn(move || loop {
            let mut block = vec![0u8; AHEAD_BLOCK];
            let mut filled = 0;
            let outcome = loop {
                match source.read(&mut block[filled..]) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        filled += n;
                        if filled == block.len() {
                            break Ok(());
                        }
                    }
                    Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(err) => break Err(err),
                }
            };
            let done = filled < block.len() || outcome.is_err();
            block.truncate(filled);
            // the parser stopped (an error, or it is done): stop decompressing
            if !block.is_empty() && send.send(Ok(block)).is_err() {
                return;
            }
            if let Err(err) = outcome {
                let _ = send.send(Err(err));
                return;
            }
            if done {
                return;
            }
        });
        let mut reader = Received { receive, block: Vec::new(), at: 0 };
        let result = read(&mut reader);
        drop(reader);
        result
    })
}

/// The parser's side of [`read_ahead`].
struct Received {
    receive: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    block: Vec<u8>,
    at: usize,
}

impl Read for Received {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.block.len() {
            match self.receive.recv() {
                Ok(Ok(block)) => {
                    self.block = block;
                    self.at = 0;
                }
                Ok(Err(err)) => return Err(err),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.block.len() - self.at);
        buf[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// An error of reading an input at decompressed offset `offset`: an [`Error::Archive`] when
/// the decompressor failed or refused, else an [`Error::Io`].
pub fn read_error(loc: Location, err: &std::io::Error) -> Error {
    match err.get_ref().and_then(|e| e.downcast_ref::<ArchiveFault>()) {
        Some(fault) => Error::Archive { loc, message: fault.message.clone() },
        None => Error::Io { loc, message: err.to_string() },
    }
}

/// A warning about the input named `file` as a whole (offset 0, no element).
pub(crate) fn warning(file: String, message: String) -> Warning {
    Warning { location: Location { file, ..Location::default() }, message }
}
