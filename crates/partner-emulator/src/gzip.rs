//! A gzip "bomb": a small, valid gzip stream that inflates to a huge run of zero bytes, for the
//! gzip-bomb fault. No compression library is needed: the stream is one hand-built DEFLATE
//! block (RFC 1951) with dynamic Huffman codes chosen so that each 258-byte back-reference
//! costs two bits, about 1:1000, the most DEFLATE allows.
//!
//! Nothing here reads input from a client; the only input is the size a test asks for.

/// The most bytes a bomb inflates to (16 GiB, about 16 MiB on the wire).
pub(crate) const MAX_INFLATED: u64 = 16 << 30;

/// The longest back-reference DEFLATE has (length symbol 285).
const MATCH: u64 = 258;

/// A gzip stream that inflates to at least `inflated` zero bytes (at least 1, at most
/// [`MAX_INFLATED`]); the exact size is `1 + 258 * n`, the smallest such number that is not
/// below `inflated`. Answers the stream and the exact inflated size.
pub(crate) fn bomb(inflated: u64) -> (Vec<u8>, u64) {
    let inflated = inflated.clamp(1, MAX_INFLATED);
    let matches = (inflated - 1).div_ceil(MATCH);
    let size = 1 + MATCH * matches;

    // Header: magic, deflate, no flags, no time, no extra flags, unknown OS.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut bits = BitWriter::new(&mut out);
    bits.bits(1, 1); // BFINAL
    bits.bits(2, 2); // BTYPE: dynamic Huffman codes
    bits.bits(29, 5); // HLIT: 286 literal/length codes
    bits.bits(0, 5); // HDIST: 1 distance code
    // HCLEN: all 19 code length codes, though 18 would do: the 3 extra bits make the bit
    // count before the back-references even, so that they reach a byte boundary and the
    // bulk of the stream is written as whole zero bytes.
    bits.bits(15, 4);
    // Code length code lengths, in RFC 1951's order 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4,
    // 12, 3, 13, 2, 14, 1, 15: only 18 (runs of zeros, length 1), 1 and 2 (length 2) are used.
    for length in [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 0] {
        bits.bits(length, 3);
    }
    // Canonical codes of that alphabet: 18 → 0, 1 → 10, 2 → 11.
    let (run_of_zeros, one, two) = ((0b0, 1), (0b10, 2), (0b11, 2));
    // Literal/length code lengths: literal 0 → 2, 1..=255 → 0, 256 (end of block) → 2,
    // 257..=284 → 0, 285 (length 258) → 1. Then the one distance code (distance 1) → 1.
    bits.code(two);
    bits.code(run_of_zeros);
    bits.bits(138 - 11, 7);
    bits.code(run_of_zeros);
    bits.bits(117 - 11, 7);
    bits.code(two);
    bits.code(run_of_zeros);
    bits.bits(28 - 11, 7);
    bits.code(one);
    bits.code(one);
    // Canonical literal/length codes: 285 → 0, literal 0 → 10, end of block → 11; the
    // distance code is 0. One literal zero, then `matches` copies of "258 bytes from 1 back"
    // (two zero bits each), then the end of the block.
    bits.code((0b10, 2));
    let mut left = matches;
    debug_assert_eq!(bits.used % 2, 0, "two-bit steps must reach a byte boundary");
    while left > 0 && !bits.aligned() {
        bits.bits(0, 2);
        left -= 1;
    }
    let whole_bytes = left / 4;
    bits.zero_bytes(whole_bytes);
    for _ in 0..left % 4 {
        bits.bits(0, 2);
    }
    bits.code((0b11, 2));
    bits.flush();

    out.extend_from_slice(&crc32_of_zeros(size).to_le_bytes());
    // ISIZE is the size modulo 2^32.
    out.extend_from_slice(&((size & 0xffff_ffff) as u32).to_le_bytes());
    (out, size)
}

/// Writes bits least significant first, as DEFLATE packs them.
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    current: u8,
    used: u8,
}

impl<'a> BitWriter<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        Self {
            out,
            current: 0,
            used: 0,
        }
    }

    fn bit(&mut self, bit: u32) {
        self.current |= ((bit & 1) as u8) << self.used;
        self.used += 1;
        if self.used == 8 {
            self.out.push(self.current);
            self.current = 0;
            self.used = 0;
        }
    }

    /// A number of `count` bits, least significant bit first.
    fn bits(&mut self, value: u32, count: u32) {
        for i in 0..count {
            self.bit(value >> i);
        }
    }

    /// A Huffman code `(code, length)`, most significant bit first.
    fn code(&mut self, (code, length): (u32, u32)) {
        for i in (0..length).rev() {
            self.bit(code >> i);
        }
    }

    fn aligned(&self) -> bool {
        self.used == 0
    }

    /// `n` zero bytes at once; only when aligned.
    fn zero_bytes(&mut self, n: u64) {
        let n = usize::try_from(n).unwrap_or(0);
        // A zeroed allocation and one copy: far faster than pushing bytes one by one.
        self.out.append(&mut vec![0; n]);
    }

    fn flush(&mut self) {
        if self.used > 0 {
            self.out.push(self.current);
            self.current = 0;
            self.used = 0;
        }
    }
}

/// The CRC-32 (IEEE, as gzip uses it) of `n` zero bytes, in O(log n): for a zero byte the
/// CRC update is a linear map of the register, so `n` of them are that map to the power `n`.
fn crc32_of_zeros(n: u64) -> u32 {
    /// One zero byte through the reflected CRC-32 register.
    fn step(mut crc: u32) -> u32 {
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
        crc
    }
    /// A linear map as the images of the 32 unit vectors.
    type Map = [u32; 32];
    fn apply(map: &Map, vector: u32) -> u32 {
        (0..32)
            .filter(|i| vector >> i & 1 == 1)
            .fold(0, |acc, i| acc ^ map[i])
    }
    fn compose(outer: &Map, inner: &Map) -> Map {
        inner.map(|column| apply(outer, column))
    }
    let mut power: Map = std::array::from_fn(|i| step(1 << i));
    let mut result: Map = std::array::from_fn(|i| 1 << i);
    let mut n = n;
    while n > 0 {
        if n & 1 == 1 {
            result = compose(&power, &result);
        }
        power = compose(&power, &power);
        n >>= 1;
    }
    apply(&result, 0xFFFF_FFFF) ^ 0xFFFF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain CRC-32 of `n` zero bytes, bit by bit.
    fn crc32_slow(n: usize) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for _ in 0..n {
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        crc ^ 0xFFFF_FFFF
    }

    #[test]
    fn crc_of_zeros_matches_the_plain_computation() {
        for n in [0, 1, 2, 3, 7, 258, 259, 1000, 4097] {
            assert_eq!(crc32_of_zeros(n as u64), crc32_slow(n), "{n}");
        }
        // Python: zlib.crc32(bytes(1 << 20))
        assert_eq!(crc32_of_zeros(1 << 20), 0xa738_ea1c);
    }

    #[test]
    fn bombs_are_small_and_exact() {
        // Checked with Python: gzip.decompress(bytes) == bytes(775).
        let (small, size) = bomb(775);
        assert_eq!(size, 775);
        let hex: String = small.iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(
            hex,
            "1f8b08000000000000ffede081000000008020ec4fbd48050c1b4e16e707030000"
        );
        let (big, size) = bomb(1 << 30);
        assert!((1 << 30..(1 << 30) + 258).contains(&size));
        assert!(big.len() < 1_100_000, "{}", big.len());
        assert_eq!(bomb(0).1, 1);
        assert_eq!(bomb(u64::MAX).1, 1 + 258 * (MAX_INFLATED - 1).div_ceil(258));
    }
}
