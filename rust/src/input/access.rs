//! Random access into a compressed stream: a deflate stream (a gzip file, a deflated zip member),
//! as zlib's `zran.c` does it, through zlib-rs's safe API; a bzip2 file, at its blocks; a stored
//! zip member, at any byte.
//!
//! One sequential pass ([`index`]) decompresses the whole input, stopping at every deflate
//! block boundary (`InflateFlush::Block`), and hands the decompressed bytes to a cut finder.
//! For each cut it records an **access point**: the last block boundary at or before the cut,
//! as the compressed bit offset where the next block starts, the decompressed offset there and
//! the (up to) 32 KiB of decompressed bytes before it, the window that later back-references
//! reach into. A task then reads from the cut alone ([`ChunkBytes`]): it starts a raw inflate
//! at that bit, with the window as its dictionary, discards the bytes before the cut and stops
//! at the chunk's end: work proportional to its chunk, never to where the chunk lies.
//!
//! zlib-rs's safe API has neither `inflatePrime` nor `data_type` (which tells how many bits of
//! the last byte read are left over at a boundary). So the reader shifts the compressed bytes
//! itself so that the access point's bit is byte-aligned ([`Source`]), and the pass finds the
//! bit by trial: the boundary lies at most 63 bits before the byte the inflater stopped at, and
//! the one candidate whose inflate reproduces the next 64 KiB (or the rest of the member) of
//! what the pass decompressed is the boundary. Where no candidate does, the access point falls
//! back to the start of the member (exact, no window): slower, never wrong.
//!
//! Every chunk also carries the CRC-32 of its decompressed bytes, checked when its read ends:
//! the member's own CRC is only checked by a read of the whole member (the pass does), so this
//! proves a chunk read alone saw the bytes the pass saw.
//!
//! Two other framings are cut with the same pass shape, cut finder and [`ChunkBytes`]:
//! - **bzip2** ([`super::bz2`]): its blocks need no window, so the access point of a chunk is
//!   the block its cut lies in: `bit` is the compressed bit where the block's magic starts,
//!   `out` (and `member_out`) the decompressed offset where the block starts, `member_end` the
//!   file's size, the window empty. The pass decodes the blocks one after another, checking each
//!   block's CRC and each stream's combined CRC; a task decodes from its block on, block by
//!   block, across streams, until its chunk's end.
//! - **a stored zip member**: its bytes as they are; the access point is the chunk's own start
//!   (`out`, its byte in the member; `bit` the same byte in the archive, `member_end` the byte
//!   after the member), and the pass checks the member's CRC against the archive's.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use zlib_rs::{Inflate, InflateFlush, Status};

use super::bz2::{self, Blocks};
use super::{open_regular, ArchiveFault, Compression, Input, Limits};
use crate::error::{Error, Location, Result};

/// The window: how far back a deflate back-reference reaches.
pub const WINDOW: usize = 32 * 1024;
/// Decompressed bytes after a boundary that a candidate bit must reproduce. Larger than a
/// stored block (at most 65,535 bytes), so a candidate that only agrees through one cannot pass.
const VERIFY: usize = 64 * 1024;
/// Compressed bytes read from the file at a time.
const READ: usize = 1 << 16;
/// Decompressed bytes asked of one inflate call.
const STEP: usize = 1 << 18;
/// The history of decompressed bytes is compacted past this.
const HISTORY: usize = 4 << 20;
/// Bytes before a region the cut finder sees again (a start tag cut by the region's start).
pub const LOOK_BACK: usize = 256;

/// How a compressed input frames its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// gzip members, one after another.
    Gzip,
    /// One deflated zip member: the raw deflate bytes at `start`, `len` of them.
    ZipDeflate { start: u64, len: u64, crc: u32, size: u64 },
    /// bzip2 streams, one after another ([`super::bz2`]).
    Bzip2,
    /// One stored zip member: its bytes at `start`, `len` of them, as they are.
    ZipStored { start: u64, len: u64, crc: u32 },
}

/// Where a chunk of a compressed input starts decompressing, and what its bytes must check to
/// (the fields of a bzip2 or stored access point: the module's doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The compressed bit offset (in the file) of the deflate block to start at.
    pub bit: u64,
    /// The decompressed offset where that block starts.
    pub out: u64,
    /// The decompressed offset where that block's gzip member starts (0 for a zip member).
    pub member_out: u64,
    /// The compressed byte offset (in the file) just after that member's deflate data.
    pub member_end: u64,
    /// The CRC-32 of the chunk's decompressed bytes.
    pub crc: u32,
    /// Up to [`WINDOW`] decompressed bytes before `out` (of the same member).
    pub window: Vec<u8>,
}

const MAGIC: &[u8; 4] = b"RTA1";

impl Access {
    /// The access point as bytes (a chunk carries it to the task that reads it).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 8 * 4 + 4 + self.window.len());
        out.extend_from_slice(MAGIC);
        for v in [self.bit, self.out, self.member_out, self.member_end] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.crc.to_le_bytes());
        out.extend_from_slice(&self.window);
        out
    }

    /// The access point [`Access::to_bytes`] wrote; `None` for bytes it did not write.
    pub fn from_bytes(bytes: &[u8]) -> Option<Access> {
        let rest = bytes.strip_prefix(MAGIC)?;
        if rest.len() < 36 || rest.len() - 36 > WINDOW {
            return None;
        }
        let u64_at = |i: usize| rest.get(i..i + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
        let access = Access {
            bit: u64_at(0)?,
            out: u64_at(8)?,
            member_out: u64_at(16)?,
            member_end: u64_at(24)?,
            crc: u32::from_le_bytes(rest.get(32..36)?.try_into().ok()?),
            window: rest[36..].to_vec(),
        };
        (access.member_out <= access.out && access.window.len() as u64 <= access.out - access.member_out)
            .then_some(access)
    }
}

fn fault(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, ArchiveFault { message })
}

/// The message of a stream refused by `limits`: `given` bytes from `read` compressed ones.
fn bomb(given: u64, read: u64, of: &str, limits: Limits) -> String {
    format!(
        "refused as a decompression bomb: {given} bytes from {read} compressed bytes{of} (more than {} bytes and {} \
         times the compressed size; RTBFAST_INFLATE_RATIO and RTBFAST_INFLATE_FLOOR set the bound)",
        limits.floor, limits.ratio
    )
}

fn archive(name: &str, message: String) -> Error {
    Error::Archive { loc: Location { file: name.to_string(), ..Location::default() }, message }
}

/// How `input`'s stream is framed; `None` when it has none to cut (plain, a zip member neither
/// deflated nor stored).
pub fn framing(input: &Input) -> Result<Option<Framing>> {
    match input.compression {
        Compression::Gzip => Ok(Some(Framing::Gzip)),
        Compression::Bzip2 => Ok(Some(Framing::Bzip2)),
        Compression::Zip => super::archive::member_framing(input),
        Compression::Plain => Ok(None),
    }
}

/// Compressed bytes from a file, from a bit offset on: shifted so that the bit is the first
/// of the first byte given, when it is not byte-aligned.
struct Source {
    file: File,
    /// Bytes read and not yet shifted (at most one: the carry of a shifted read).
    carry: Option<u8>,
    shift: u32,
    buf: Vec<u8>,
    at: usize,
    /// The file offset of the next byte to read.
    next: u64,
    /// The file offset not to read past.
    limit: u64,
    eof: bool,
    /// Bytes given (consumed) since the source (re)started, and its first bit.
    given: u64,
    first_bit: u64,
}

impl Source {
    fn open(file: File, bit: u64, limit: u64) -> std::io::Result<Source> {
        let mut s = Source {
            file,
            carry: None,
            shift: 0,
            buf: Vec::with_capacity(READ),
            at: 0,
            next: 0,
            limit,
            eof: false,
            given: 0,
            first_bit: 0,
        };
        s.restart(bit)?;
        Ok(s)
    }

    fn restart(&mut self, bit: u64) -> std::io::Result<()> {
        self.file.seek(SeekFrom::Start(bit / 8))?;
        self.next = bit / 8;
        self.shift = (bit % 8) as u32;
        self.carry = None;
        self.buf.clear();
        self.at = 0;
        self.eof = false;
        self.given = 0;
        self.first_bit = bit;
        Ok(())
    }

    /// The file offset of the next byte to give (exact when not shifted).
    fn offset(&self) -> u64 {
        self.first_bit.saturating_add(self.given.saturating_mul(8)).div_ceil(8)
    }

    fn available(&mut self) -> std::io::Result<&[u8]> {
        if self.at == self.buf.len() && !self.eof {
            self.fill()?;
        }
        Ok(&self.buf[self.at..])
    }

    fn consume(&mut self, n: usize) {
        self.at += n;
        self.given += n as u64;
    }

    fn fill(&mut self) -> std::io::Result<()> {
        let want = (self.limit.saturating_sub(self.next)).min(READ as u64) as usize;
        let mut raw = vec![0u8; want];
        let mut got = 0;
        while got < want {
            match self.file.read(&mut raw[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        raw.truncate(got);
        self.next += got as u64;
        let end = got < want || want == 0;
        self.buf.clear();
        self.at = 0;
        if self.shift == 0 {
            self.buf.extend_from_slice(&raw);
        } else {
            let s = self.shift;
            let mut prev = self.carry.take();
            for &b in &raw {
                if let Some(p) = prev {
                    self.buf.push((p >> s) | (b << (8 - s)));
                }
                prev = Some(b);
            }
            if end {
                // the last byte's remaining bits (the rest of it is past the input)
                if let Some(p) = prev {
                    self.buf.push(p >> s);
                }
            } else {
                self.carry = prev;
            }
        }
        if end {
            self.eof = true;
        }
        Ok(())
    }

    /// Exactly `n` bytes (fewer at the end of the input).
    fn take(&mut self, n: usize) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let have = self.available()?;
            if have.is_empty() {
                break;
            }
            let k = have.len().min(n - out.len());
            out.extend_from_slice(&have[..k]);
            self.consume(k);
        }
        Ok(out)
    }
}

/// Read a gzip member's header; an error message when it is not one. `Ok(false)`: no bytes
/// left (the end of the input).
fn gzip_header(src: &mut Source) -> std::result::Result<bool, String> {
    let at = src.offset();
    let io = |e: std::io::Error| e.to_string();
    let fixed = src.take(10).map_err(io)?;
    if fixed.is_empty() {
        return Ok(false);
    }
    if fixed.len() < 10 {
        return Err(format!("truncated gzip header at compressed byte {at}"));
    }
    if fixed[0] != 0x1f || fixed[1] != 0x8b || fixed[2] != 8 {
        return Err(format!("invalid gzip header at compressed byte {at} (trailing garbage or a corrupt member)"));
    }
    let flags = fixed[3];
    if flags & 0x04 != 0 {
        let len = src.take(2).map_err(io)?;
        let n = match len.as_slice() {
            [a, b] => u16::from_le_bytes([*a, *b]) as usize,
            _ => return Err(format!("truncated gzip header at compressed byte {at}")),
        };
        if src.take(n).map_err(io)?.len() < n {
            return Err(format!("truncated gzip header at compressed byte {at}"));
        }
    }
    for flag in [0x08u8, 0x10] {
        if flags & flag != 0 {
            loop {
                match src.take(1).map_err(io)?.first() {
                    Some(0) => break,
                    Some(_) => {}
                    None => return Err(format!("truncated gzip header at compressed byte {at}")),
                }
            }
        }
    }
    if flags & 0x02 != 0 && src.take(2).map_err(io)?.len() < 2 {
        return Err(format!("truncated gzip header at compressed byte {at}"));
    }
    Ok(true)
}

fn new_inflate() -> Inflate {
    Inflate::new(false, 15)
}

/// A block boundary the pass stopped at.
#[derive(Debug, Clone)]
struct Mark {
    /// The file offset of the first byte the inflater had not taken.
    byte: u64,
    /// The exact bit, where known (a member's start).
    exact: Option<u64>,
    out: u64,
    member_out: u64,
    /// The window and the bytes after the boundary, once copied out of the history.
    saved: Option<(Vec<u8>, Vec<u8>)>,
}

/// An access point chosen for a cut, until its bit is known and its member has ended.
#[derive(Debug)]
struct Chosen {
    mark: Mark,
    window: Vec<u8>,
    after: Vec<u8>,
    /// The member ended within `after`.
    ended: bool,
    bit: Option<u64>,
    verified: bool,
    member: usize,
    member_end: Option<u64>,
}

/// What the pass gives: the cuts (decompressed offsets, ascending, the first 0) with the
/// access point each chunk starts from, and the decompressed size.
#[derive(Debug)]
pub struct Index {
    pub chunks: Vec<(u64, Access)>,
    pub size: u64,
}

/// The pass's decompressed bytes: the history kept for windows and the cut finder, `buf[..len]`
/// (the rest of `buf` is room the inflater writes into, zeroed once, not at every call: a
/// stream of empty blocks returns at every one).
struct History {
    buf: Vec<u8>,
    len: usize,
    base: u64,
}

impl History {
    fn end(&self) -> u64 {
        self.base + self.len as u64
    }
    fn slice(&self, from: u64, to: u64) -> &[u8] {
        let a = from.saturating_sub(self.base).min(self.len as u64) as usize;
        let b = to.saturating_sub(self.base).min(self.len as u64) as usize;
        &self.buf[a..b.max(a)]
    }
}

fn save(mark: &Mark, history: &History) -> (Vec<u8>, Vec<u8>) {
    if let Some(saved) = &mark.saved {
        return saved.clone();
    }
    let from = mark.out.saturating_sub(WINDOW as u64).max(mark.member_out);
    let window = history.slice(from, mark.out).to_vec();
    let after = history.slice(mark.out, mark.out + VERIFY as u64).to_vec();
    (window, after)
}

/// Decompress all of `input` once, giving `find` each new region of decompressed bytes (with
/// up to [`LOOK_BACK`] bytes before it: `find(bytes, offset of bytes[0], offset the region
/// starts at)`), which returns the cuts it found there, ascending. The member CRCs and sizes
/// are checked; a corrupt or truncated stream is an error naming the compressed and
/// decompressed offsets.
pub fn index(
    input: &Input,
    framing: Framing,
    limits: Limits,
    find: impl FnMut(&[u8], u64, u64) -> Vec<u64>,
) -> Result<Index> {
    match framing {
        Framing::Gzip | Framing::ZipDeflate { .. } => index_deflate(input, framing, limits, find),
        Framing::Bzip2 => index_bz2(input, limits, find),
        Framing::ZipStored { start, len, crc } => index_stored(input, (start, len, crc), find),
    }
}

fn index_deflate(
    input: &Input,
    framing: Framing,
    limits: Limits,
    mut find: impl FnMut(&[u8], u64, u64) -> Vec<u64>,
) -> Result<Index> {
    let name = input.name();
    let fail = |message: String| archive(&name, message);
    let io = |err: std::io::Error| Error::io(&name, &err);
    let file = open_regular(&input.file, &input.file.display().to_string())?;
    let file_size = file.metadata().map_err(io)?.len();
    let (start, limit) = match framing {
        Framing::Gzip | Framing::Bzip2 => (0, file_size),
        Framing::ZipDeflate { start, len, .. } | Framing::ZipStored { start, len, .. } => {
            (start, start.saturating_add(len).min(file_size))
        }
    };
    let mut src = Source::open(file, start * 8, limit).map_err(io)?;
    let mut verify_file = open_regular(&input.file, &name)?;
    let mut history = History { buf: vec![0u8; HISTORY + STEP], len: 0, base: 0 };
    let mut chosen: Vec<Chosen> = Vec::new();
    let mut cuts: Vec<u64> = vec![0];
    let mut crcs: Vec<u32> = Vec::new();
    let (mut seg_crc, mut crc_upto) = (0u32, 0u64);
    let mut member = 0usize;
    // each member's first bit and decompressed offset, and the byte after its deflate data
    let mut starts: Vec<(u64, u64)> = Vec::new();
    let mut ends: Vec<u64> = Vec::new();
    let mut inflate = new_inflate();
    let mut recent: Vec<Mark> = Vec::new();
    'members: loop {
        if framing == Framing::Gzip {
            match gzip_header(&mut src) {
                Ok(true) => {}
                Ok(false) if member > 0 => break 'members,
                Ok(false) => return Err(fail("an empty gzip file".into())),
                Err(message) => return Err(fail(message)),
            }
        }
        inflate.reset(false);
        let member_out = history.end();
        let begin = src.offset();
        let start_mark =
            Mark { byte: begin, exact: Some(begin * 8), out: member_out, member_out, saved: Some((vec![], vec![])) };
        starts.push((begin * 8, member_out));
        recent.clear();
        recent.push(Mark { saved: None, ..start_mark });
        let mut member_crc = 0u32;
        let out_before = inflate.total_out();
        loop {
            if history.len + STEP > history.buf.len() {
                // compact: copy out what the marks still need, keep a window and the look-back
                for m in recent.iter_mut() {
                    if m.saved.is_none() {
                        m.saved = Some(save(m, &history));
                    }
                }
                let keep = history.end().saturating_sub((WINDOW + LOOK_BACK) as u64).max(history.base);
                let cut = (keep - history.base) as usize;
                history.buf.copy_within(cut..history.len, 0);
                history.len -= cut;
                history.base = keep;
            }
            let have = src.available().map_err(io)?.len();
            let region_start = history.end();
            let old = history.len;
            let (tin, tout) = (inflate.total_in(), inflate.total_out());
            let input_bytes = src.available().map_err(io)?;
            let result = inflate.decompress(input_bytes, &mut history.buf[old..old + STEP], InflateFlush::Block);
            let used = (inflate.total_in() - tin) as usize;
            let made = (inflate.total_out() - tout) as usize;
            history.len = old + made;
            src.consume(used);
            let region_end = history.end();
            let status = match result {
                Ok(status) => status,
                Err(err) => {
                    return Err(fail(format!(
                        "corrupt {} data at compressed byte {} (decompressed byte {region_end}): {}",
                        input.compression.label(),
                        src.offset(),
                        err.as_str()
                    )))
                }
            };
            member_crc = zlib_rs::crc32::crc32(member_crc, &history.buf[old..old + made]);
            if limits.exceeded(region_end, src.offset().saturating_sub(start)) {
                return Err(fail(bomb(region_end, src.offset().saturating_sub(start), "", limits)));
            }
            if made > 0 {
                for c in chosen.iter_mut().filter(|c| !c.ended && c.after.len() < VERIFY) {
                    let more = history.slice(region_start, region_end);
                    let k = more.len().min(VERIFY - c.after.len());
                    c.after.extend_from_slice(&more[..k]);
                }
                for m in recent.iter_mut() {
                    if let Some((_, after)) = &mut m.saved {
                        if after.len() < VERIFY {
                            let more = history.slice(region_start, region_end);
                            let k = more.len().min(VERIFY - after.len());
                            after.extend_from_slice(&more[..k]);
                        }
                    }
                }
                let from = region_start.saturating_sub(LOOK_BACK as u64).max(history.base).max(member_out);
                let found = find(history.slice(from, region_end), from, region_start);
                for c in found {
                    let last = *cuts.last().unwrap_or(&0);
                    if c <= last || c < crc_upto || c > region_end {
                        continue;
                    }
                    let Some(mark) = recent.iter().rev().find(|m| m.out <= c).cloned() else { continue };
                    seg_crc = zlib_rs::crc32::crc32(seg_crc, history.slice(crc_upto, c));
                    crc_upto = c;
                    crcs.push(seg_crc);
                    seg_crc = 0;
                    cuts.push(c);
                    let (window, after) = save(&mark, &history);
                    chosen.push(Chosen {
                        bit: mark.exact,
                        verified: mark.exact.is_some(),
                        mark,
                        window,
                        after,
                        ended: false,
                        member,
                        member_end: None,
                    });
                }
                // the CRC of the current chunk lags the region's end by the look-back
                let upto = region_end.saturating_sub(LOOK_BACK as u64).max(crc_upto);
                seg_crc = zlib_rs::crc32::crc32(seg_crc, history.slice(crc_upto, upto));
                crc_upto = upto;
            }
            match status {
                Status::StreamEnd => {
                    let end = src.offset();
                    let size = inflate.total_out() - out_before;
                    match framing {
                        Framing::Gzip => {
                            let trailer = src.take(8).map_err(io)?;
                            if trailer.len() < 8 {
                                return Err(fail(format!(
                                    "truncated at compressed byte {} (decompressed byte {region_end}): the gzip \
                                     trailer is cut",
                                    src.offset()
                                )));
                            }
                            let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
                            let isize = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
                            if crc != member_crc || isize != size as u32 {
                                return Err(fail(format!(
                                    "corrupt gzip data at compressed byte {end} (decompressed byte {region_end}): the \
                                     member's CRC or length does not match its trailer"
                                )));
                            }
                        }
                        Framing::ZipDeflate { crc, size: want, .. } => {
                            if crc != member_crc || size != want {
                                return Err(fail(format!(
                                    "corrupt zip data at compressed byte {end} (decompressed byte {region_end}): the \
                                     member's CRC or size does not match the archive's"
                                )));
                            }
                        }
                        Framing::Bzip2 | Framing::ZipStored { .. } => {}
                    }
                    for c in chosen.iter_mut().filter(|c| c.member == member) {
                        c.member_end = Some(end);
                        if c.after.len() < VERIFY {
                            c.ended = true;
                        }
                    }
                    ends.push(end);
                    member += 1;
                    if matches!(framing, Framing::ZipDeflate { .. }) {
                        break 'members;
                    }
                    continue 'members;
                }
                Status::Ok | Status::BufError => {
                    let left = src.available().map_err(io)?.len();
                    if used == 0 && made == 0 && left == have {
                        if left == 0 {
                            return Err(fail(format!(
                                "truncated at compressed byte {} (decompressed byte {region_end}): the {} stream \
                                 ends before its last block",
                                src.offset(),
                                input.compression.label()
                            )));
                        }
                        return Err(fail(format!(
                            "corrupt {} data at compressed byte {} (decompressed byte {region_end}): no progress",
                            input.compression.label(),
                            src.offset()
                        )));
                    }
                    if used < have && made < STEP {
                        // stopped at a block boundary
                        let mark = Mark { byte: src.offset(), exact: None, out: region_end, member_out, saved: None };
                        if recent.last().is_some_and(|m| m.out == mark.out) {
                            recent.pop();
                        }
                        recent.push(mark);
                        let keep_after = region_end.saturating_sub(LOOK_BACK as u64);
                        while recent.len() > 1 && recent[1].out <= keep_after {
                            recent.remove(0);
                        }
                    }
                }
            }
            // verify the chosen access points whose bytes after are complete
            for c in chosen.iter_mut().filter(|c| !c.verified && (c.ended || c.after.len() >= VERIFY)) {
                c.bit = locate(&mut verify_file, c, start);
                c.verified = true;
            }
        }
    }
    seg_crc = zlib_rs::crc32::crc32(seg_crc, history.slice(crc_upto, history.end()));
    crcs.push(seg_crc);
    let size = history.end();
    if starts.is_empty() || ends.len() != starts.len() {
        return Err(fail("no complete deflate stream".into()));
    }
    let mut chunks = Vec::with_capacity(cuts.len());
    chunks.push((
        0,
        Access {
            bit: starts[0].0,
            out: 0,
            member_out: 0,
            member_end: ends[0],
            crc: crcs.first().copied().unwrap_or(0),
            window: Vec::new(),
        },
    ));
    for (i, c) in chosen.iter_mut().enumerate() {
        if !c.verified {
            c.bit = locate(&mut verify_file, c, start);
        }
        let member_end = ends.get(c.member).copied().unwrap_or(limit);
        let crc = crcs.get(i + 1).copied().unwrap_or(0);
        let access = match c.bit {
            Some(bit) => Access {
                bit,
                out: c.mark.out,
                member_out: c.mark.member_out,
                member_end,
                crc,
                window: std::mem::take(&mut c.window),
            },
            // no candidate reproduced the bytes: start at the member's start (exact, no window)
            None => {
                let (bit, out) = starts.get(c.member).copied().unwrap_or((start * 8, 0));
                Access { bit, out, member_out: out, member_end, crc, window: vec![] }
            }
        };
        chunks.push((cuts[i + 1], access));
    }
    Ok(Index { chunks, size })
}

/// The bit at which the block after `c`'s boundary starts: the candidate at most 63 bits
/// before the byte the inflater stopped at whose inflate (with the window) gives the bytes the
/// pass saw after the boundary. `None` when none does.
fn locate(file: &mut File, c: &Chosen, start: u64) -> Option<u64> {
    if let Some(bit) = c.mark.exact {
        return Some(bit);
    }
    let top = c.mark.byte * 8;
    for k in 0..64u64 {
        let Some(bit) = top.checked_sub(k) else { break };
        if bit < start * 8 {
            break;
        }
        if reproduces(file, bit, c) {
            return Some(bit);
        }
    }
    None
}

fn reproduces(file: &mut File, bit: u64, c: &Chosen) -> bool {
    let Ok(copy) = file.try_clone() else { return false };
    let Ok(mut src) = Source::open(copy, bit, u64::MAX) else { return false };
    let mut inflate = new_inflate();
    if !c.window.is_empty() && inflate.set_dictionary(&c.window).is_err() {
        return false;
    }
    let want = c.after.len() + usize::from(c.ended);
    let mut out = vec![0u8; want.max(1)];
    let mut made = 0usize;
    loop {
        let Ok(input) = src.available() else { return false };
        let before = (inflate.total_in(), inflate.total_out());
        let result = inflate.decompress(input, &mut out[made..], InflateFlush::NoFlush);
        let used = (inflate.total_in() - before.0) as usize;
        let delta = (inflate.total_out() - before.1) as usize;
        made += delta;
        src.consume(used);
        let n = made.min(c.after.len());
        if out[..n] != c.after[..n] {
            return false;
        }
        match result {
            Ok(Status::StreamEnd) => return c.ended && made == c.after.len(),
            Ok(_) if made >= want => return !c.ended,
            Ok(_) if used == 0 && delta == 0 => return false,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

/// The cuts of a stream whose access points are known as its bytes come (bzip2 blocks, a
/// stored member): `find` over each region with up to [`LOOK_BACK`] bytes before it, and the
/// CRC-32 of each chunk's bytes.
struct Cutting<F> {
    find: F,
    /// The last bytes given (up to [`LOOK_BACK`] of them), from `tail_base` on.
    tail: Vec<u8>,
    tail_base: u64,
    chunks: Vec<(u64, Access)>,
    crc: u32,
    crc_upto: u64,
}

impl<F: FnMut(&[u8], u64, u64) -> Vec<u64>> Cutting<F> {
    fn new(find: F) -> Cutting<F> {
        Cutting { find, tail: Vec::new(), tail_base: 0, chunks: Vec::new(), crc: 0, crc_upto: 0 }
    }

    /// The next `bytes` of the stream; `point(cut)` is the access point a chunk starting at
    /// `cut` reads from.
    fn give(&mut self, bytes: &[u8], point: impl Fn(u64) -> Access) {
        if self.chunks.is_empty() {
            self.chunks.push((0, point(0)));
        }
        let base = self.tail_base;
        let region = base + self.tail.len() as u64;
        let mut window = std::mem::take(&mut self.tail);
        window.extend_from_slice(bytes);
        let end = base + window.len() as u64;
        let at = |offset: u64| (offset - base) as usize;
        for cut in (self.find)(&window, base, region) {
            let last = self.chunks.last().map_or(0, |(c, _)| *c);
            if cut <= last || cut < self.crc_upto || cut > end {
                continue;
            }
            let crc = zlib_rs::crc32::crc32(self.crc, &window[at(self.crc_upto)..at(cut)]);
            if let Some((_, access)) = self.chunks.last_mut() {
                access.crc = crc;
            }
            self.crc = 0;
            self.crc_upto = cut;
            self.chunks.push((cut, point(cut)));
        }
        // the CRC lags the end by the look-back: a cut found later may lie there
        let upto = end.saturating_sub(LOOK_BACK as u64).max(self.crc_upto);
        self.crc = zlib_rs::crc32::crc32(self.crc, &window[at(self.crc_upto)..at(upto)]);
        self.crc_upto = upto;
        let keep = end.saturating_sub(LOOK_BACK as u64).max(base);
        window.drain(..at(keep));
        self.tail = window;
        self.tail_base = keep;
    }

    fn finish(mut self, size: u64) -> Index {
        let crc = zlib_rs::crc32::crc32(self.crc, &self.tail[(self.crc_upto - self.tail_base) as usize..]);
        if let Some((_, access)) = self.chunks.last_mut() {
            access.crc = crc;
        }
        Index { chunks: self.chunks, size }
    }
}

/// The pass over a bzip2 file: its blocks decoded (a few at a time in parallel, given in order;
/// each block's CRC and each stream's combined CRC checked); a chunk's access point is the
/// block its cut lies in.
fn index_bz2(input: &Input, limits: Limits, find: impl FnMut(&[u8], u64, u64) -> Vec<u64>) -> Result<Index> {
    let name = input.name();
    let fail = |message: String| archive(&name, message);
    let file = open_regular(&input.file, &name)?;
    let size = file.metadata().map_err(|e| Error::io(&name, &e))?.len();
    // the blocks decoded a few at a time, one a core; their bytes given in order
    let mut blocks = Blocks::from_start(file, size).ahead_on(crate::pools::pool(0, 0, "bzip2 decoding")?);
    let mut cutting = Cutting::new(find);
    // each block's magic bit and decompressed offset
    let mut starts: Vec<(u64, u64)> = Vec::new();
    let mut piece = Vec::new();
    while let Some(block) = blocks.next_block().map_err(fail)? {
        starts.push((block.bit, block.out));
        let point = |cut: u64| {
            let i = starts.partition_point(|s| s.1 <= cut).saturating_sub(1);
            let (bit, out) = starts.get(i).copied().unwrap_or((block.bit, block.out));
            Access { bit, out, member_out: out, member_end: size, crc: 0, window: Vec::new() }
        };
        match block.bytes {
            bz2::Bytes::Held(bytes) => cutting.give(&bytes, point),
            bz2::Bytes::Again(mut decoding) => {
                // a block too large to hold, checked already: decoded again, a piece at a time
                let mut out = block.out;
                piece.resize(READ * 16, 0);
                loop {
                    let n = decoding.read(&mut piece).map_err(|_| {
                        fail(format!(
                            "corrupt bzip2 data at compressed byte {} (decompressed byte {out}): the block does \
                             not decode again",
                            block.bit / 8
                        ))
                    })?;
                    if n == 0 {
                        break;
                    }
                    out += n as u64;
                    cutting.give(&piece[..n], point);
                    if limits.exceeded(out, block.bit / 8) {
                        return Err(fail(bomb(out, block.bit / 8, "", limits)));
                    }
                }
            }
        }
        if limits.exceeded(blocks.out(), blocks.offset()) {
            return Err(fail(bomb(blocks.out(), blocks.offset(), "", limits)));
        }
    }
    Ok(cutting.finish(blocks.out()))
}

/// The pass over a stored zip member: its bytes as they are, their CRC checked against the
/// archive's; a chunk's access point is its own start.
fn index_stored(
    input: &Input,
    (start, len, crc): (u64, u64, u32),
    find: impl FnMut(&[u8], u64, u64) -> Vec<u64>,
) -> Result<Index> {
    let name = input.name();
    let io = |err: std::io::Error| Error::io(&name, &err);
    let mut file = open_regular(&input.file, &input.file.display().to_string())?;
    file.seek(SeekFrom::Start(start)).map_err(io)?;
    let mut member = file.take(len);
    let mut cutting = Cutting::new(find);
    let end = start.saturating_add(len);
    let point = |cut: u64| Access {
        bit: (start + cut) * 8,
        out: cut,
        member_out: 0,
        member_end: end,
        crc: 0,
        window: Vec::new(),
    };
    let mut buf = vec![0u8; READ * 16];
    let (mut got, mut whole) = (0u64, 0u32);
    loop {
        let n = match member.read(&mut buf) {
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(io(err)),
        };
        if n == 0 {
            break;
        }
        whole = zlib_rs::crc32::crc32(whole, &buf[..n]);
        got += n as u64;
        cutting.give(&buf[..n], point);
    }
    if got < len {
        return Err(archive(
            &name,
            format!(
                "truncated at compressed byte {} (decompressed byte {got}): the archive ends inside the member",
                start + got
            ),
        ));
    }
    if whole != crc {
        return Err(archive(
            &name,
            format!(
                "corrupt zip data at compressed byte {end} (decompressed byte {got}): the member's CRC does not match \
                 the archive's"
            ),
        ));
    }
    Ok(cutting.finish(got))
}

/// A bzip2 file's decompressed bytes from a block on.
struct Unblocking {
    blocks: Blocks,
    bytes: Option<bz2::Bytes>,
    /// The next held byte to give.
    at: usize,
    out: u64,
    name: String,
    limits: Limits,
    compressed_start: u64,
    given: u64,
}

impl Unblocking {
    fn open(input: &Input, access: &Access, limits: Limits) -> Result<Unblocking> {
        let name = input.name();
        let file = open_regular(&input.file, &name)?;
        let size = file.metadata().map_err(|e| Error::io(&name, &e))?.len();
        if access.bit / 8 >= size {
            return Err(archive(&name, format!("an access point past the end of the input (bit {})", access.bit)));
        }
        Ok(Unblocking {
            blocks: Blocks::from_block(file, size, access.bit, access.out),
            bytes: None,
            at: 0,
            out: access.out,
            name,
            limits,
            compressed_start: access.bit / 8,
            given: 0,
        })
    }
}

impl Read for Unblocking {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if buf.is_empty() {
                return Ok(0);
            }
            let n = match &mut self.bytes {
                None => match self.blocks.next_block().map_err(fault)? {
                    None => return Ok(0),
                    Some(block) => {
                        self.bytes = Some(block.bytes);
                        self.at = 0;
                        continue;
                    }
                },
                Some(bz2::Bytes::Held(held)) => {
                    let n = (held.len() - self.at).min(buf.len());
                    buf[..n].copy_from_slice(&held[self.at..self.at + n]);
                    self.at += n;
                    n
                }
                Some(bz2::Bytes::Again(decoding)) => decoding.read(buf).map_err(|_| {
                    fault(format!(
                        "corrupt bzip2 data at compressed byte {} (decompressed byte {}): the block does not decode \
                         again",
                        self.blocks.offset(),
                        self.out
                    ))
                })?,
            };
            if n == 0 {
                self.bytes = None;
                continue;
            }
            self.out += n as u64;
            self.given += n as u64;
            let read = self.blocks.offset().saturating_sub(self.compressed_start);
            if self.limits.exceeded(self.given, read) {
                return Err(fault(bomb(self.given, read, &format!(" of {}", self.name), self.limits)));
            }
            return Ok(n);
        }
    }
}

/// A stored zip member's bytes from an offset on.
struct Stored {
    member: std::io::Take<File>,
    out: u64,
    offset: u64,
}

impl Stored {
    fn open(input: &Input, (start, len): (u64, u64), access: &Access) -> Result<Stored> {
        let name = input.name();
        let mut file = open_regular(&input.file, &name)?;
        if access.out > len {
            return Err(archive(&name, format!("an access point past the end of the member (byte {})", access.out)));
        }
        let offset = start + access.out;
        file.seek(SeekFrom::Start(offset)).map_err(|e| Error::io(&name, &e))?;
        Ok(Stored { member: file.take(len - access.out), out: access.out, offset })
    }
}

impl Read for Stored {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.member.read(buf)?;
        self.out += n as u64;
        self.offset += n as u64;
        Ok(n)
    }
}

/// A compressed input's decompressed bytes from an access point on, however it is framed.
enum Stream {
    Inflating(Inflating),
    Unblocking(Unblocking),
    Stored(Stored),
}

impl Stream {
    /// The decompressed offset of the next byte.
    fn out(&self) -> u64 {
        match self {
            Stream::Inflating(s) => s.out,
            Stream::Unblocking(s) => s.out,
            Stream::Stored(s) => s.out,
        }
    }

    /// The compressed byte it is at.
    fn offset(&self) -> u64 {
        match self {
            Stream::Inflating(s) => s.src.offset(),
            Stream::Unblocking(s) => s.blocks.offset(),
            Stream::Stored(s) => s.offset,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Inflating(s) => s.read(buf),
            Stream::Unblocking(s) => s.read(buf),
            Stream::Stored(s) => s.read(buf),
        }
    }
}

/// A compressed input's decompressed bytes from an access point on.
struct Inflating {
    src: Source,
    inflate: Inflate,
    framing: Framing,
    name: String,
    label: &'static str,
    /// The decompressed offset of the next byte to give.
    out: u64,
    member_out: u64,
    /// The current member's end, where known (the first member's, from the access point).
    member_end: Option<u64>,
    /// The CRC of the current member, when it was read from its start.
    member_crc: Option<u32>,
    done: bool,
    limits: Limits,
    compressed_start: u64,
    given: u64,
}

impl Inflating {
    fn open(input: &Input, framing: Framing, access: &Access, limits: Limits) -> Result<Inflating> {
        let name = input.name();
        let file = open_regular(&input.file, &input.file.display().to_string())?;
        let size = file.metadata().map_err(|e| Error::io(&name, &e))?.len();
        let limit = match framing {
            Framing::Gzip | Framing::Bzip2 => size,
            Framing::ZipDeflate { start, len, .. } | Framing::ZipStored { start, len, .. } => {
                start.saturating_add(len).min(size)
            }
        };
        if access.bit / 8 >= limit || access.member_end > limit {
            return Err(archive(&name, format!("an access point past the end of the input (bit {})", access.bit)));
        }
        let src = Source::open(file, access.bit, limit).map_err(|e| Error::io(&name, &e))?;
        let mut inflate = new_inflate();
        if !access.window.is_empty() {
            inflate
                .set_dictionary(&access.window)
                .map_err(|e| archive(&name, format!("cannot start inflating at a chunk: {}", e.as_str())))?;
        }
        let from_start = access.out == access.member_out;
        Ok(Inflating {
            compressed_start: access.bit / 8,
            src,
            inflate,
            framing,
            label: input.compression.label(),
            name,
            out: access.out,
            member_out: access.member_out,
            member_end: Some(access.member_end),
            member_crc: from_start.then_some(0),
            done: false,
            limits,
            given: 0,
        })
    }

    fn corrupt(&self, what: &str) -> std::io::Error {
        fault(format!(
            "corrupt {} data at compressed byte {} (decompressed byte {}): {what}",
            self.label,
            self.src.offset(),
            self.out
        ))
    }

    /// The member ended: check its trailer, start the next one (gzip) or end.
    fn member_ended(&mut self) -> std::io::Result<()> {
        let Framing::Gzip = self.framing else {
            self.done = true;
            return Ok(());
        };
        // a shifted source does not know where the member's bytes end: the access point does
        let end = match (self.src.shift, self.member_end) {
            (0, _) => self.src.offset(),
            (_, Some(end)) => end,
            (_, None) => return Err(self.corrupt("a member's end is unknown")),
        };
        self.src.restart(end.saturating_mul(8))?;
        let trailer = self.src.take(8)?;
        if trailer.len() < 8 {
            return Err(fault(format!(
                "truncated at compressed byte {} (decompressed byte {}): the gzip trailer is cut",
                self.src.offset(),
                self.out
            )));
        }
        let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let isize = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
        if isize != (self.out - self.member_out) as u32 || self.member_crc.is_some_and(|c| c != crc) {
            return Err(self.corrupt("the member's CRC or length does not match its trailer"));
        }
        match gzip_header(&mut self.src) {
            Ok(true) => {}
            Ok(false) => {
                self.done = true;
                return Ok(());
            }
            Err(message) => return Err(fault(message)),
        }
        self.inflate.reset(false);
        self.member_out = self.out;
        self.member_end = None;
        self.member_crc = Some(0);
        Ok(())
    }
}

impl Read for Inflating {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            let input = self.src.available()?;
            let have = input.len();
            let before = (self.inflate.total_in(), self.inflate.total_out());
            let result = self.inflate.decompress(input, buf, InflateFlush::NoFlush);
            let used = (self.inflate.total_in() - before.0) as usize;
            let made = (self.inflate.total_out() - before.1) as usize;
            self.src.consume(used);
            if let Some(crc) = &mut self.member_crc {
                *crc = zlib_rs::crc32::crc32(*crc, &buf[..made]);
            }
            self.out += made as u64;
            self.given += made as u64;
            let status = result.map_err(|e| self.corrupt(e.as_str()))?;
            let read = self.src.offset().saturating_sub(self.compressed_start);
            if self.limits.exceeded(self.given, read) {
                return Err(fault(bomb(self.given, read, &format!(" of {}", self.name), self.limits)));
            }
            if status == Status::StreamEnd {
                self.member_ended()?;
            } else if used == 0 && made == 0 && have == 0 {
                return Err(fault(format!(
                    "truncated at compressed byte {} (decompressed byte {}): the {} stream ends before its last block",
                    self.src.offset(),
                    self.out,
                    self.label
                )));
            }
            if made > 0 {
                return Ok(made);
            }
        }
    }
}

/// The decompressed bytes `start..end` (`None`: to the end) of a compressed input, inflated
/// from an access point at or before `start`; their CRC is checked against the access
/// point's when they end ([`ChunkBytes::finish`], or a read past the end).
pub struct ChunkBytes {
    inner: Stream,
    start: u64,
    end: Option<u64>,
    crc: u32,
    want: u32,
    checked: bool,
}

impl ChunkBytes {
    pub fn open(input: &Input, access: &Access, start: u64, end: Option<u64>, limits: Limits) -> Result<ChunkBytes> {
        let Some(framing) = framing(input)? else {
            return Err(archive(
                &input.name(),
                "not a stream that can be cut: a chunk of it cannot be read alone".into(),
            ));
        };
        if access.out > start || end.is_some_and(|e| e < start) {
            return Err(archive(
                &input.name(),
                format!("an access point at {} does not reach the chunk at {start}", access.out),
            ));
        }
        let inner = match framing {
            Framing::Gzip | Framing::ZipDeflate { .. } => {
                Stream::Inflating(Inflating::open(input, framing, access, limits)?)
            }
            Framing::Bzip2 => Stream::Unblocking(Unblocking::open(input, access, limits)?),
            Framing::ZipStored { start, len, .. } => Stream::Stored(Stored::open(input, (start, len), access)?),
        };
        Ok(ChunkBytes { inner, start, end, crc: 0, want: access.crc, checked: false })
    }

    fn check(&mut self) -> std::io::Result<()> {
        if self.checked {
            return Ok(());
        }
        self.checked = true;
        if let Some(end) = self.end {
            if self.inner.out() < end {
                return Err(fault(format!(
                    "truncated at compressed byte {} (decompressed byte {}): the chunk ends at decompressed byte {end}",
                    self.inner.offset(),
                    self.inner.out()
                )));
            }
        }
        if self.crc != self.want {
            return Err(fault(format!(
                "the chunk's bytes {}..{} do not check (CRC-32 {:08x}, the split saw {:08x}): the file changed since \
                 it was split, or is corrupt",
                self.start,
                self.inner.out(),
                self.crc,
                self.want
            )));
        }
        Ok(())
    }

    /// Read what is left of the chunk and check its CRC.
    pub fn finish(&mut self) -> std::io::Result<()> {
        let mut sink = vec![0u8; 1 << 16];
        while self.read(&mut sink)? > 0 {}
        self.check()
    }
}

impl Read for ChunkBytes {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // discard up to the chunk's start
        let mut skip = vec![];
        while self.inner.out() < self.start {
            if skip.is_empty() {
                skip = vec![0u8; 1 << 16];
            }
            let n = (self.start - self.inner.out()).min(skip.len() as u64) as usize;
            if self.inner.read(&mut skip[..n])? == 0 {
                return Err(fault(format!(
                    "truncated at compressed byte {} (decompressed byte {}): the chunk starts at decompressed byte {}",
                    self.inner.offset(),
                    self.inner.out(),
                    self.start
                )));
            }
        }
        let room = match self.end {
            Some(end) => (end.saturating_sub(self.inner.out())).min(buf.len() as u64) as usize,
            None => buf.len(),
        };
        if room == 0 {
            self.check()?;
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..room])?;
        self.crc = zlib_rs::crc32::crc32(self.crc, &buf[..n]);
        if n == 0 {
            self.check()?;
        }
        Ok(n)
    }
}
