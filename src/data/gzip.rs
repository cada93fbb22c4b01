//! gzip (RFC 1952) and DEFLATE (RFC 1951) decompression, written out so
//! the core needs no crate. The decoder follows the canonical-Huffman
//! scheme of Mark Adler's `puff.c`: plain and easy to check rather than fast.

pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// The decompressed contents of a gzip file (all members, concatenated),
/// with each member's CRC-32 and length checked.
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(bytes.len() * 4);
    let mut pos = 0;
    while pos < bytes.len() {
        if !is_gzip(&bytes[pos..]) {
            return Err(format!("not a gzip member at byte {pos}"));
        }
        let start = out.len();
        pos = member(bytes, pos, &mut out)?;
        let trailer = bytes.get(pos..pos + 8).ok_or("gzip file is truncated (no CRC-32 and length trailer)")?;
        let crc = u32::from_le_bytes(trailer[0..4].try_into().unwrap());
        let size = u32::from_le_bytes(trailer[4..8].try_into().unwrap());
        if crc32(&out[start..]) != crc {
            return Err("gzip CRC-32 mismatch: the file is corrupt".into());
        }
        if (out.len() - start) as u32 != size {
            return Err("gzip length mismatch: the file is corrupt".into());
        }
        pos += 8;
    }
    Ok(out)
}

/// Skips one member's header, inflates its data; returns where the trailer starts.
fn member(bytes: &[u8], mut pos: usize, out: &mut Vec<u8>) -> Result<usize, String> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    let header = bytes.get(pos..pos + 10).ok_or("gzip header is truncated")?;
    if header[2] != 8 {
        return Err(format!("gzip compression method {} is not DEFLATE", header[2]));
    }
    let flags = header[3];
    pos += 10;
    if flags & FEXTRA != 0 {
        let len = bytes.get(pos..pos + 2).ok_or("gzip header is truncated")?;
        pos += 2 + u16::from_le_bytes([len[0], len[1]]) as usize;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let end = bytes.get(pos..).and_then(|rest| rest.iter().position(|&b| b == 0));
            pos += end.ok_or("gzip header is truncated")? + 1;
        }
    }
    if flags & FHCRC != 0 {
        pos += 2;
    }
    if pos > bytes.len() {
        return Err("gzip header is truncated".into());
    }
    let mut bits = Bits { data: bytes, pos, buf: 0, count: 0 };
    inflate(&mut bits, out)?;
    Ok(bits.pos)
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u32,
    count: u32,
}

impl Bits<'_> {
    /// The next `n` (<= 16) bits, least significant first.
    fn take(&mut self, n: u32) -> Result<u32, String> {
        while self.count < n {
            let byte = *self.data.get(self.pos).ok_or("compressed data is truncated")?;
            self.pos += 1;
            self.buf |= u32::from(byte) << self.count;
            self.count += 8;
        }
        let v = self.buf & ((1u32 << n) - 1);
        self.buf >>= n;
        self.count -= n;
        Ok(v)
    }
}

/// A canonical Huffman code: how many codes of each length, and the
/// symbols in code order.
struct Huffman {
    count: [u16; 16],
    symbol: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Result<Self, String> {
        let mut count = [0u16; 16];
        for &l in lengths {
            count[l as usize] += 1;
        }
        let mut left: i32 = 1;
        for &c in &count[1..] {
            left = left * 2 - i32::from(c);
            if left < 0 {
                return Err("invalid Huffman code (over-subscribed)".into());
            }
        }
        let mut offset = [0u16; 16];
        for len in 1..15 {
            offset[len + 1] = offset[len] + count[len];
        }
        let mut symbol = vec![0u16; lengths.len()];
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbol[offset[l as usize] as usize] = sym as u16;
                offset[l as usize] += 1;
            }
        }
        Ok(Huffman { count, symbol })
    }

    fn decode(&self, bits: &mut Bits) -> Result<u16, String> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.take(1)? as i32;
            let count = i32::from(self.count[len]);
            if code - first < count {
                return Ok(self.symbol[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err("invalid Huffman code in compressed data".into())
    }
}

const LENGTH_BASE: [u16; 29] =
    [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA: [u8; 29] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
    6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

fn inflate(bits: &mut Bits, out: &mut Vec<u8>) -> Result<(), String> {
    let member_start = out.len();
    loop {
        let last = bits.take(1)? == 1;
        match bits.take(2)? {
            0 => stored(bits, out)?,
            1 => {
                let mut lengths = [0u8; 288];
                lengths[..144].fill(8);
                lengths[144..256].fill(9);
                lengths[256..280].fill(7);
                lengths[280..].fill(8);
                codes(bits, out, member_start, &Huffman::new(&lengths)?, &Huffman::new(&[5; 30])?)?
            }
            2 => {
                let (lit, dist) = dynamic_tables(bits)?;
                codes(bits, out, member_start, &lit, &dist)?
            }
            _ => return Err("invalid DEFLATE block type".into()),
        }
        if last {
            // The trailer starts at the next whole byte.
            bits.buf = 0;
            bits.count = 0;
            return Ok(());
        }
    }
}

fn stored(bits: &mut Bits, out: &mut Vec<u8>) -> Result<(), String> {
    bits.buf = 0;
    bits.count = 0;
    let header = bits.data.get(bits.pos..bits.pos + 4).ok_or("compressed data is truncated")?;
    let len = u16::from_le_bytes([header[0], header[1]]);
    if len != !u16::from_le_bytes([header[2], header[3]]) {
        return Err("stored block length check failed".into());
    }
    bits.pos += 4;
    let data = bits.data.get(bits.pos..bits.pos + len as usize).ok_or("compressed data is truncated")?;
    out.extend_from_slice(data);
    bits.pos += len as usize;
    Ok(())
}

fn dynamic_tables(bits: &mut Bits) -> Result<(Huffman, Huffman), String> {
    const ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
    let nlen = bits.take(5)? as usize + 257;
    let ndist = bits.take(5)? as usize + 1;
    let ncode = bits.take(4)? as usize + 4;
    if nlen > 286 || ndist > 30 {
        return Err("bad DEFLATE table counts".into());
    }
    let mut code_lengths = [0u8; 19];
    for &i in &ORDER[..ncode] {
        code_lengths[i] = bits.take(3)? as u8;
    }
    let lencode = Huffman::new(&code_lengths)?;
    let mut lengths = vec![0u8; nlen + ndist];
    let mut i = 0;
    while i < nlen + ndist {
        let sym = lencode.decode(bits)?;
        let (value, repeat) = match sym {
            0..=15 => (sym as u8, 1),
            16 if i > 0 => (lengths[i - 1], 3 + bits.take(2)? as usize),
            16 => return Err("DEFLATE length repeat with no previous length".into()),
            17 => (0, 3 + bits.take(3)? as usize),
            _ => (0, 11 + bits.take(7)? as usize),
        };
        if i + repeat > nlen + ndist {
            return Err("DEFLATE code lengths overflow their table".into());
        }
        lengths[i..i + repeat].fill(value);
        i += repeat;
    }
    if lengths[256] == 0 {
        return Err("DEFLATE block has no end-of-block code".into());
    }
    Ok((Huffman::new(&lengths[..nlen])?, Huffman::new(&lengths[nlen..])?))
}

fn codes(bits: &mut Bits, out: &mut Vec<u8>, member_start: usize, lit: &Huffman, dist: &Huffman) -> Result<(), String> {
    loop {
        let sym = lit.decode(bits)? as usize;
        match sym {
            0..=255 => out.push(sym as u8),
            256 => return Ok(()),
            _ => {
                let i = sym - 257;
                if i >= 29 {
                    return Err("invalid DEFLATE length code".into());
                }
                let len = LENGTH_BASE[i] as usize + bits.take(u32::from(LENGTH_EXTRA[i]))? as usize;
                let d = dist.decode(bits)? as usize;
                if d >= 30 {
                    return Err("invalid DEFLATE distance code".into());
                }
                let back = DIST_BASE[d] as usize + bits.take(u32::from(DIST_EXTRA[d]))? as usize;
                if back > out.len() - member_start {
                    return Err("DEFLATE distance reaches before the start of the data".into());
                }
                let from = out.len() - back;
                for k in 0..len {
                    out.push(out[from + k]);
                }
            }
        }
    }
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as gzip uses.
pub fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (n, entry) in table.iter_mut().enumerate() {
        let mut c = n as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
        *entry = c;
    }
    !data.iter().fold(!0u32, |c, &b| table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_of_known_string() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    // `printf 'hello hello hello hello\n' | gzip -n -9 | xxd -i`
    const HELLO_GZ: [u8; 29] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40,
        0x27, 0xb9, 0x00, 0x00, 0x88, 0x59, 0x0b, 0x18, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn inflates_a_gzip_file() {
        assert_eq!(gunzip(&HELLO_GZ).unwrap(), b"hello hello hello hello\n");
    }

    #[test]
    fn corrupt_and_truncated_members_are_errors() {
        assert!(gunzip(&HELLO_GZ[..12]).is_err());
        let mut bad = HELLO_GZ;
        bad[2] = 9;
        assert!(gunzip(&bad).unwrap_err().contains("not DEFLATE"));
        let mut flipped = HELLO_GZ;
        flipped[21] ^= 0x01; // a bit of the CRC-32
        assert!(gunzip(&flipped).unwrap_err().contains("CRC-32"));
    }
}
