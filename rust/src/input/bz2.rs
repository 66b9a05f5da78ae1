//! A bzip2 file read block by block, from any block on: what cuts a `.bz2` export into chunks.
//!
//! A bzip2 stream is `BZh1`..`BZh9`, then blocks, each starting with the 48-bit magic
//! `0x314159265359` (not byte-aligned) and the block's CRC, then the 48-bit end magic
//! `0x177245385090`, the stream's combined CRC (`rotl(combined, 1) ^ block CRC` over its
//! blocks) and padding to a byte; streams may follow one another (pbzip2, `cat a.bz2 b.bz2`).
//! Blocks carry no window: a block decodes alone. [`Blocks`] decodes one as a one-block stream
//! of its own (`BZh9`, the block's bits shifted to a byte, the end magic and the block's CRC as
//! the combined one) through the `bzip2` crate, which checks the block's CRC.
//!
//! Where a block ends is found by scanning its bits for the next magic ([`scan`]). The magic
//! can occur by chance inside compressed data; so a block counts only when it decodes and its
//! CRC checks, and when it does not, and the decoder read up to the magic taken for its end,
//! the block is tried again up to the next magic (at most [`TRIES`] times). A decoder that
//! failed before that magic met corrupt data: extending cannot help, and that is the error.
//!
//! A block's decompressed bytes (up to a few MiB; bzip2's run-length stage lets one decode to
//! 45 MiB) are held until its CRC checks, up to [`HELD`]; a larger block is first decoded once
//! to check it, then decoded again as it is read: memory stays bounded either way.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use bzip2::{Decompress, Status};
use rayon::prelude::*;

/// The magic that starts a block.
pub const BLOCK_MAGIC: u64 = 0x3141_5926_5359;
/// The magic that ends a stream.
pub const END_MAGIC: u64 = 0x1772_4538_5090;
const MASK: u64 = (1 << 48) - 1;
/// The compressed bytes of one block at most: 900,000 symbols of up to 20 bits, its tables and
/// selectors (2.3 MB), with room. A block not found to end within them is corrupt.
const MAX_BLOCK: u64 = 3 << 20;
/// Magics a block is tried up to before it is called corrupt (a chance magic inside a block
/// occurs once in 2^48 bits).
pub const TRIES: usize = 16;
/// Decompressed bytes of a block held until its CRC checks.
pub const HELD: usize = 8 << 20;
/// Compressed bytes read from the file at a time.
const READ: usize = 1 << 20;
/// Compressed bytes scanned for magics at a time.
const SCAN: u64 = 1 << 18;
/// Decompressed bytes asked of one decode call.
const STEP: usize = 1 << 16;

/// A magic the scan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    Block,
    End,
}

/// The second byte of a window in which a magic starts (at any of the first byte's 8 bits)
/// is one of 16 values: the scan's filter.
fn second_bytes() -> [bool; 256] {
    let mut table = [false; 256];
    for magic in [BLOCK_MAGIC, END_MAGIC] {
        for k in 0..8u32 {
            // the magic starting at bit k of byte 0: byte 1 holds its bits 8-k .. 16-k
            table[((magic >> (40 - (8 - k))) & 0xff) as usize] = true;
        }
    }
    table
}

/// The magics in `bytes` (its first bit is bit `base`) that start at or after bit `from`, as
/// (bit, magic), ascending; a magic must lie whole within `bytes`.
pub fn scan(bytes: &[u8], base: u64, from: u64) -> Vec<(u64, Magic)> {
    let table = second_bytes();
    let mut found = Vec::new();
    let first = (from.saturating_sub(base) / 8) as usize;
    let total = bytes.len() as u64 * 8;
    for i in first..bytes.len() {
        if !bytes.get(i + 1).is_some_and(|&b| table[b as usize]) {
            continue;
        }
        let mut w = [0u8; 8];
        let have = (bytes.len() - i).min(8);
        w[..have].copy_from_slice(&bytes[i..i + have]);
        let w = u64::from_be_bytes(w);
        for k in 0..8u64 {
            let pos = i as u64 * 8 + k;
            if pos + 48 > total {
                break;
            }
            if base + pos < from {
                continue;
            }
            let v = (w >> (16 - k)) & MASK;
            if v == BLOCK_MAGIC {
                found.push((base + pos, Magic::Block));
            } else if v == END_MAGIC {
                found.push((base + pos, Magic::End));
            }
        }
    }
    found
}

/// `n` (at most 57) bits of `bytes` from bit `pos` (relative to `bytes`); `None` past its end.
pub fn bits(bytes: &[u8], pos: u64, n: u32) -> Option<u64> {
    if pos + u64::from(n) > bytes.len() as u64 * 8 {
        return None;
    }
    let i = (pos / 8) as usize;
    let mut w = [0u8; 8];
    let have = (bytes.len() - i).min(8);
    w[..have].copy_from_slice(&bytes[i..i + have]);
    let shift = pos % 8;
    Some((u64::from_be_bytes(w) << shift) >> (64 - u64::from(n)))
}

/// Bits appended one after another.
struct BitWriter {
    out: Vec<u8>,
    len: u64,
}

impl BitWriter {
    fn push(&mut self, value: u64, n: u32) {
        for i in (0..n).rev() {
            if self.len.is_multiple_of(8) {
                self.out.push(0);
            }
            if (value >> i) & 1 == 1 {
                if let Some(last) = self.out.last_mut() {
                    *last |= 0x80 >> (self.len % 8);
                }
            }
            self.len += 1;
        }
    }
}

/// The one-block stream of the block at bits `start..end` of `bytes`: `BZh9`, the block, the
/// end magic and the block's CRC as the stream's.
pub fn one_block_stream(bytes: &[u8], start: u64, end: u64) -> Option<Vec<u8>> {
    let crc = bits(bytes, start + 48, 32)?;
    let n = end.checked_sub(start)?;
    if end > bytes.len() as u64 * 8 {
        return None;
    }
    let mut w = BitWriter { out: Vec::with_capacity((n / 8) as usize + 16), len: 0 };
    w.out.extend_from_slice(b"BZh9");
    w.len = 32;
    let (i, s) = ((start / 8) as usize, (start % 8) as u32);
    let whole = (n / 8) as usize;
    if s == 0 {
        w.out.extend_from_slice(&bytes[i..i + whole]);
    } else {
        let next = |j: usize| bytes.get(j).copied().unwrap_or(0);
        w.out.extend((0..whole).map(|j| (next(i + j) << s) | (next(i + j + 1) >> (8 - s))));
    }
    w.len += whole as u64 * 8;
    let rest = (n % 8) as u32;
    if rest > 0 {
        w.push(bits(bytes, start + whole as u64 * 8, rest)?, rest);
    }
    w.push(END_MAGIC, 48);
    w.push(crc, 32);
    Some(w.out)
}

/// Why a block's decoding failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The decoder read the block up to its supposed end: the end may be a chance magic.
    AtEnd,
    /// The decoder met corrupt data before the block's supposed end.
    Corrupt,
}

/// The decoding of one one-block stream.
pub struct Decoding {
    decoder: Decompress,
    stream: Vec<u8>,
    at: usize,
    /// The stream's byte where the block's supposed end lies (the end magic's first byte).
    end_byte: usize,
    done: bool,
}

impl Decoding {
    fn new(stream: Vec<u8>, block_bits: u64) -> Decoding {
        let end_byte = ((32 + block_bits) / 8) as usize;
        Decoding { decoder: Decompress::new(false), stream, at: 0, end_byte, done: false }
    }

    /// Decompressed bytes into `buf`; `Ok(0)` at the end, once the block's CRC checked.
    pub fn read(&mut self, buf: &mut [u8]) -> std::result::Result<usize, Failure> {
        loop {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            let (tin, tout) = (self.decoder.total_in(), self.decoder.total_out());
            let result = self.decoder.decompress(&self.stream[self.at..], buf);
            let used = (self.decoder.total_in() - tin) as usize;
            let made = (self.decoder.total_out() - tout) as usize;
            self.at += used;
            match result {
                Ok(Status::StreamEnd) => {
                    self.done = true;
                    if made > 0 {
                        return Ok(made);
                    }
                }
                Ok(_) if made > 0 => return Ok(made),
                Ok(_) if used > 0 => {}
                // no progress: the stream ended before the block did
                Ok(_) => return Err(Failure::AtEnd),
                // the decoder takes at most 3 bytes beyond the bits it failed at
                Err(_) if self.at + 3 >= self.end_byte => return Err(Failure::AtEnd),
                Err(_) => return Err(Failure::Corrupt),
            }
        }
    }
}

/// A block's bytes, once its CRC checked: held, or decoded again as they are read (a block of
/// more than [`HELD`] bytes).
pub enum Bytes {
    Held(Vec<u8>),
    Again(Decoding),
}

/// One block read.
pub struct Block {
    /// The compressed bit where its magic starts.
    pub bit: u64,
    /// The decompressed offset where it starts, and its size.
    pub out: u64,
    pub size: u64,
    pub bytes: Bytes,
}

/// What went wrong, located: a message naming the compressed and decompressed bytes.
pub type Fault = String;

/// Where the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// At a stream's header, byte-aligned.
    Stream,
    /// At a block's or the end's magic.
    Magic,
}

/// A bzip2 file's blocks, one after another, from a stream's start or a block on.
pub struct Blocks {
    file: File,
    /// The file's bytes `base..base + buf.len()`, read on demand.
    buf: Vec<u8>,
    base: u64,
    size: u64,
    bit: u64,
    at: At,
    out: u64,
    /// The combined CRC of the current stream's blocks, when read from its start.
    combined: Option<u32>,
    streams: u64,
    /// Decoding blocks ahead in parallel (the split pass): the pool, and the blocks decoded
    /// (start bit, the magic after it, the outcome), in order.
    pool: Option<Arc<rayon::ThreadPool>>,
    ahead: VecDeque<(u64, u64, std::result::Result<Held, Failure>)>,
}

impl Blocks {
    /// The blocks of `file` (`size` bytes) from its start.
    pub fn from_start(file: File, size: u64) -> Blocks {
        Blocks {
            file,
            buf: Vec::new(),
            base: 0,
            size,
            bit: 0,
            at: At::Stream,
            out: 0,
            combined: None,
            streams: 0,
            pool: None,
            ahead: VecDeque::new(),
        }
    }

    /// Decode blocks ahead on `pool`'s threads, a few per thread at a time (held blocks: at most
    /// [`HELD`] bytes each).
    pub fn ahead_on(mut self, pool: Arc<rayon::ThreadPool>) -> Blocks {
        self.pool = Some(pool);
        self
    }

    /// The blocks of `file` from the block whose magic starts at `bit`, decompressed offset `out`.
    pub fn from_block(file: File, size: u64, bit: u64, out: u64) -> Blocks {
        Blocks {
            file,
            buf: Vec::new(),
            base: bit / 8,
            size,
            bit,
            at: At::Magic,
            out,
            combined: None,
            streams: 1,
            pool: None,
            ahead: VecDeque::new(),
        }
    }

    /// The decompressed offset of the next block.
    pub fn out(&self) -> u64 {
        self.out
    }

    /// The compressed byte the reader is at.
    pub fn offset(&self) -> u64 {
        self.bit / 8
    }

    /// The file's bytes from `from` (at or after `base`) up to `to` (or its end) in `buf`.
    fn fill(&mut self, from: u64, to: u64) -> std::io::Result<()> {
        let to = to.min(self.size);
        if from > self.base + self.buf.len() as u64 || from < self.base {
            self.buf.clear();
            self.base = from;
        } else if from - self.base > (READ as u64) * 4 {
            let drop = (from - self.base) as usize;
            self.buf.drain(..drop);
            self.base = from;
        }
        let have = self.base + self.buf.len() as u64;
        if to <= have {
            return Ok(());
        }
        self.file.seek(SeekFrom::Start(have))?;
        let want = (to - have) as usize;
        let old = self.buf.len();
        self.buf.resize(old + want, 0);
        let mut got = 0;
        while got < want {
            match self.file.read(&mut self.buf[old + got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        self.buf.truncate(old + got);
        Ok(())
    }

    fn end_of_file(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// The next block; `None` after the last stream. Every stream's combined CRC is checked
    /// where it was read from its start.
    pub fn next_block(&mut self) -> std::result::Result<Option<Block>, Fault> {
        let io = |e: std::io::Error| e.to_string();
        loop {
            if self.at == At::Stream {
                let byte = self.bit / 8;
                self.fill(byte, byte + 4).map_err(io)?;
                let head = &self.buf[(byte - self.base) as usize..];
                if head.is_empty() && self.streams > 0 {
                    return Ok(None);
                }
                if !matches!(head, [b'B', b'Z', b'h', b'1'..=b'9', ..]) {
                    return Err(format!(
                        "corrupt bzip2 data at compressed byte {byte} (decompressed byte {}): no stream header \
                         (trailing garbage or a corrupt stream)",
                        self.out
                    ));
                }
                self.streams += 1;
                self.bit += 32;
                self.at = At::Magic;
                self.combined = Some(0);
                continue;
            }
            let byte = self.bit / 8;
            self.fill(byte, byte + 11).map_err(io)?;
            let local = self.bit - self.base * 8;
            let Some(magic) = bits(&self.buf, local, 48) else { return Err(self.truncated()) };
            if magic == END_MAGIC {
                let Some(stored) = bits(&self.buf, local + 48, 32) else { return Err(self.truncated()) };
                if self.combined.is_some_and(|c| u64::from(c) != stored) {
                    return Err(format!(
                        "corrupt bzip2 data at compressed byte {} (decompressed byte {}): the stream's combined CRC \
                         does not match its blocks'",
                        byte, self.out
                    ));
                }
                self.bit = (self.bit + 80).div_ceil(8) * 8;
                self.at = At::Stream;
                continue;
            }
            if magic != BLOCK_MAGIC {
                return Err(format!(
                    "corrupt bzip2 data at compressed byte {byte} (decompressed byte {}): no block magic at bit {}",
                    self.out,
                    self.bit % 8
                ));
            }
            return self.block().map(Some);
        }
    }

    fn truncated(&self) -> Fault {
        format!(
            "truncated at compressed byte {} (decompressed byte {}): the bzip2 stream ends before its last block",
            self.end_of_file(),
            self.out
        )
    }

    fn corrupt(&self) -> Fault {
        format!(
            "corrupt bzip2 data at compressed byte {} (decompressed byte {}): the block there does not decode or \
             its CRC does not match",
            self.bit / 8,
            self.out
        )
    }

    /// The block at `self.bit`: decoded ahead, else tried up to each magic after it until one
    /// decodes.
    fn block(&mut self) -> std::result::Result<Block, Fault> {
        let start = self.bit;
        if let Some(pool) = self.pool.clone() {
            while self.ahead.front().is_some_and(|a| a.0 < start) {
                self.ahead.pop_front();
            }
            if self.ahead.is_empty() {
                self.decode_ahead(&pool).map_err(|e| e.to_string())?;
            }
            if self.ahead.front().is_some_and(|a| a.0 == start && a.2.is_ok()) {
                if let Some((_, end, Ok(held))) = self.ahead.pop_front() {
                    return Ok(self.found(start, end, held));
                }
            }
            // not decoded, or failed there: a chance magic or a corrupt block, tried one by one
        }
        self.one_block()
    }

    /// Decode the next blocks on `pool`, one a thread, two rounds: each from a block magic to
    /// the magic after it, as [`Blocks::one_block`] tries first.
    fn decode_ahead(&mut self, pool: &rayon::ThreadPool) -> std::io::Result<()> {
        let start = self.bit;
        let byte = start / 8;
        let want = pool.current_num_threads().max(1) * 2;
        let last = byte.saturating_add(MAX_BLOCK.saturating_mul(want as u64)).min(self.size);
        self.fill(byte, byte)?;
        let mut magics = vec![(start, Magic::Block)];
        let mut from = start + 48;
        loop {
            magics.extend(scan(&self.buf, self.base * 8, from));
            from = (self.end_of_file() * 8).saturating_sub(47).max(from);
            let upto = self.end_of_file();
            if magics.len() > want || upto >= last {
                break;
            }
            self.fill(byte, (upto + SCAN).min(last))?;
            if self.end_of_file() == upto {
                break;
            }
        }
        let segments: Vec<(u64, u64)> =
            magics.windows(2).filter(|w| w[0].1 == Magic::Block).map(|w| (w[0].0, w[1].0)).take(want).collect();
        let (buf, base) = (&self.buf, self.base * 8);
        let decoded: Vec<_> = pool.install(|| {
            segments
                .par_iter()
                .map(|&(a, b)| {
                    let held = match one_block_stream(buf, a - base, b - base) {
                        Some(stream) => hold(Decoding::new(stream, b - a)),
                        None => Err(Failure::AtEnd),
                    };
                    (a, b, held)
                })
                .collect()
        });
        self.ahead = decoded.into();
        Ok(())
    }

    /// The block at `start` ends at the magic at `end`: its bytes (held, or to decode again).
    fn found(&mut self, start: u64, end: u64, held: Held) -> Block {
        let base = self.base * 8;
        let (a, b) = (start - base, end - base);
        let crc = bits(&self.buf, a + 48, 32).unwrap_or(0) as u32;
        let (size, bytes) = match held {
            Held::All(bytes) => (bytes.len() as u64, Bytes::Held(bytes)),
            Held::Checked(size) => {
                let again = one_block_stream(&self.buf, a, b).unwrap_or_default();
                (size, Bytes::Again(Decoding::new(again, b - a)))
            }
        };
        self.combined = self.combined.map(|c| c.rotate_left(1) ^ crc);
        let block = Block { bit: start, out: self.out, size, bytes };
        self.out += size;
        self.bit = end;
        block
    }

    /// The block at `self.bit`, tried up to each magic after it until one decodes.
    fn one_block(&mut self) -> std::result::Result<Block, Fault> {
        let start = self.bit;
        let byte = start / 8;
        let last = byte.saturating_add(MAX_BLOCK).min(self.size);
        let mut from = start + 48;
        let mut tries = 0;
        self.fill(byte, byte).map_err(|e| e.to_string())?;
        loop {
            let base = self.base * 8;
            let ends = scan(&self.buf, base, from);
            from = (self.end_of_file() * 8).saturating_sub(47).max(from);
            for (end, _) in ends {
                let (a, b) = (start - base, end - base);
                let Some(stream) = one_block_stream(&self.buf, a, b) else { break };
                match hold(Decoding::new(stream, b - a)) {
                    Ok(held) => return Ok(self.found(start, end, held)),
                    Err(Failure::Corrupt) => return Err(self.corrupt()),
                    Err(Failure::AtEnd) => {
                        tries += 1;
                        if tries >= TRIES {
                            return Err(self.corrupt());
                        }
                    }
                }
            }
            let upto = self.end_of_file();
            if upto >= last {
                break;
            }
            self.fill(byte, (upto + SCAN).min(last)).map_err(|e| e.to_string())?;
            if self.end_of_file() == upto {
                break;
            }
        }
        if last == self.size {
            return Err(self.truncated());
        }
        Err(self.corrupt())
    }
}

/// A block's bytes once its CRC checked: all of them, or their count (more than [`HELD`]).
#[derive(Debug)]
enum Held {
    All(Vec<u8>),
    Checked(u64),
}

fn hold(mut d: Decoding) -> std::result::Result<Held, Failure> {
    let mut out = Vec::new();
    loop {
        if out.len() >= HELD {
            // more than can be held: the whole block is checked before any byte is given
            return Ok(Held::Checked(out.len() as u64 + checked_size(d)?));
        }
        let old = out.len();
        out.resize(old + STEP, 0);
        let n = d.read(&mut out[old..])?;
        out.truncate(old + n);
        if n == 0 {
            return Ok(Held::All(out));
        }
    }
}

/// Decode the rest of a block, keeping nothing: how many bytes, once its CRC checked.
fn checked_size(mut d: Decoding) -> std::result::Result<u64, Failure> {
    let mut sink = vec![0u8; STEP];
    let mut size = 0u64;
    loop {
        let n = d.read(&mut sink)?;
        if n == 0 {
            return Ok(size);
        }
        size += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn bz2(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// `bytes` with `magic` written at bit `pos`.
    fn put(bytes: &mut [u8], pos: u64, magic: u64) {
        for i in 0..48u64 {
            let bit = (magic >> (47 - i)) & 1;
            let (b, m) = (((pos + i) / 8) as usize, 0x80u8 >> ((pos + i) % 8));
            if bit == 1 {
                bytes[b] |= m;
            } else {
                bytes[b] &= !m;
            }
        }
    }

    #[test]
    fn the_scan_finds_a_magic_at_every_bit() {
        for magic in [BLOCK_MAGIC, END_MAGIC] {
            for pos in 0..40u64 {
                let mut bytes = vec![0u8; 16];
                put(&mut bytes, pos, magic);
                let want = if magic == BLOCK_MAGIC { Magic::Block } else { Magic::End };
                assert_eq!(scan(&bytes, 0, 0), vec![(pos, want)], "{pos}");
                assert_eq!(scan(&bytes, 1000, 1000), vec![(1000 + pos, want)], "{pos}");
                // from past it: not found; cut short: not found
                assert_eq!(scan(&bytes, 0, pos + 1), vec![]);
                assert_eq!(scan(&bytes[..((pos + 47) / 8) as usize], 0, 0), vec![]);
                assert_eq!(bits(&bytes, pos, 48), Some(magic));
            }
        }
    }

    #[test]
    fn the_scan_finds_the_blocks_of_a_real_stream() {
        // three blocks at level 1 (100 kB blocks) of text that does not compress to nothing
        let data: Vec<u8> =
            (0..300_000u32).flat_map(|i| format!("{} ", i.wrapping_mul(2_654_435_761)).into_bytes()).collect();
        let z = bz2(&data, 1);
        let found = scan(&z, 0, 0);
        let blocks = found.iter().filter(|(_, m)| *m == Magic::Block).count();
        assert!(blocks >= 3, "{found:?}");
        assert_eq!(found[0], (32, Magic::Block));
        assert_eq!(found.last().map(|f| f.1), Some(Magic::End));
        // each block alone decodes to its share, and all of them to the data
        let mut all = Vec::new();
        for pair in found.windows(2) {
            let stream = one_block_stream(&z, pair[0].0, pair[1].0).unwrap();
            match hold(Decoding::new(stream, pair[1].0 - pair[0].0)).unwrap() {
                Held::All(v) => all.extend(v),
                Held::Checked(_) => unreachable!(),
            }
        }
        assert_eq!(all, data);
    }

    /// All of `z`, its blocks decoded one by one, and (the same, or the same fault) ahead on
    /// three threads.
    fn read_all(z: &[u8]) -> std::result::Result<Vec<u8>, Fault> {
        let one = read_all_with(z, None);
        let pool = crate::pools::pool(3, 0, "test").unwrap();
        assert_eq!(read_all_with(z, Some(pool)), one, "decoded ahead");
        one
    }

    fn read_all_with(z: &[u8], pool: Option<Arc<rayon::ThreadPool>>) -> std::result::Result<Vec<u8>, Fault> {
        let path = crate::xml::testutil::temp_file("bz2-blocks.bz2", z);
        let file = File::open(&path).unwrap();
        let mut blocks = Blocks::from_start(file, z.len() as u64);
        if let Some(pool) = pool {
            blocks = blocks.ahead_on(pool);
        }
        let mut all = Vec::new();
        while let Some(b) = blocks.next_block()? {
            assert_eq!(b.out, all.len() as u64);
            match b.bytes {
                Bytes::Held(v) => all.extend(v),
                Bytes::Again(_) => unreachable!(),
            }
        }
        Ok(all)
    }

    #[test]
    fn a_chance_magic_inside_a_block_is_passed_over() {
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| format!("<a n=\"{}\"/>", i % 977).into_bytes()).collect();
        let z = bz2(&data, 1);
        let found = scan(&z, 0, 0);
        assert_eq!(read_all(&z).unwrap(), data);
        // a block magic forged into the middle of the first block (its bytes then change, so
        // the block is corrupt): the block tried up to the forged magic fails at its end, is
        // extended, and fails as corrupt with its start named, never a partial result
        let mid = (found[0].0 + found[1].0) / 2;
        let mut forged = z.clone();
        put(&mut forged, mid, BLOCK_MAGIC);
        let err = read_all(&forged).unwrap_err();
        assert!(err.contains("corrupt bzip2 data at compressed byte 4 (decompressed byte 0)"), "{err}");
        // the scan sees the forged magic, and the attempt up to it fails at its end (AtEnd),
        // so the reader would extend
        let seen = scan(&forged, 0, 80);
        assert_eq!(seen[0].0, mid);
        let up_to_forged = one_block_stream(&forged, 32, mid).unwrap();
        assert_eq!(hold(Decoding::new(up_to_forged, mid - 32)).err(), Some(Failure::AtEnd));
    }

    #[test]
    fn many_streams_of_many_blocks_and_a_block_too_large_to_hold() {
        // 9 blocks at level 1, a stream of one run (a block of 45 MB through the run-length
        // stage: checked, then decoded again as it is read), an empty stream
        let data: Vec<u8> =
            (0..900_000u32).flat_map(|i| format!("{},", i.wrapping_mul(2_654_435_761) % 10_007).into_bytes()).collect();
        let mut z = bz2(&data, 1);
        let run = vec![b'x'; 46_000_000];
        z.extend(bz2(&run, 9));
        z.extend(bz2(b"", 9));
        let path = crate::xml::testutil::temp_file("bz2-large.bz2", &z);
        for pool in [None, Some(crate::pools::pool(2, 0, "test").unwrap())] {
            let mut blocks = Blocks::from_start(File::open(&path).unwrap(), z.len() as u64);
            if let Some(pool) = pool {
                blocks = blocks.ahead_on(pool);
            }
            let (mut all, mut again, mut n) = (Vec::new(), 0, 0);
            while let Some(b) = blocks.next_block().unwrap() {
                n += 1;
                assert_eq!(b.out, all.len() as u64);
                match b.bytes {
                    Bytes::Held(v) => all.extend(v),
                    Bytes::Again(mut d) => {
                        again += 1;
                        let mut buf = vec![0u8; 1 << 20];
                        loop {
                            let k = d.read(&mut buf).unwrap();
                            if k == 0 {
                                break;
                            }
                            all.extend_from_slice(&buf[..k]);
                        }
                        assert_eq!(b.size as usize, all.len() - b.out as usize);
                    }
                }
            }
            assert!(n >= 10 && again == 1, "{n} {again}");
            assert_eq!(all.len(), data.len() + run.len());
            assert!(all[..data.len()] == data[..] && all[data.len()..].iter().all(|&b| b == b'x'));
        }
    }

    #[test]
    fn a_chance_magic_in_the_bits_is_extended_over() {
        // the real data unchanged, but the scan given a magic that is not a block's end: the
        // one-block stream up to it fails at its end, the one up to the real end decodes
        let data: Vec<u8> = (0..150_000u32).flat_map(|i| format!("<b v=\"{}\"/>", i % 613).into_bytes()).collect();
        let z = bz2(&data, 1);
        let found = scan(&z, 0, 0);
        let (start, end) = (found[0].0, found[1].0);
        for k in [1u64, 7, 100, (end - start) / 2, end - start - 49] {
            let chance = start + 48 + k;
            let attempt = one_block_stream(&z, start, chance).unwrap();
            assert!(hold(Decoding::new(attempt, chance - start)).is_err(), "{k}");
        }
        let real = one_block_stream(&z, start, end).unwrap();
        assert!(matches!(hold(Decoding::new(real, end - start)), Ok(Held::All(_))));
    }

    #[test]
    fn a_truncated_or_corrupt_stream_is_a_located_fault() {
        let data: Vec<u8> = (0..120_000u32).flat_map(|i| format!("{i},").into_bytes()).collect();
        let z = bz2(&data, 1);
        let err = read_all(&z[..z.len() - 3]).unwrap_err();
        assert!(err.starts_with("truncated at compressed byte"), "{err}");
        let err = read_all(&z[..z.len() / 2]).unwrap_err();
        assert!(err.starts_with("truncated at compressed byte"), "{err}");
        let mut bad = z.clone();
        let n = bad.len();
        bad[n / 3] ^= 0x10;
        let err = read_all(&bad).unwrap_err();
        assert!(err.starts_with("corrupt bzip2 data at compressed byte"), "{err}");
        // the combined CRC changed: every block checks, the stream does not
        let mut crc = z.clone();
        let n = crc.len();
        crc[n - 2] ^= 0x01;
        let err = read_all(&crc).unwrap_err();
        assert!(err.contains("combined CRC"), "{err}");
        // two streams and trailing garbage
        let mut two = z.clone();
        two.extend(bz2(b"more", 9));
        let mut want = data.clone();
        want.extend(b"more");
        assert_eq!(read_all(&two).unwrap(), want);
        two.extend(b"junk");
        assert!(read_all(&two).unwrap_err().contains("no stream header"));
    }
}
