//! SHA-256, SHA-1 and HMAC (FIPS 180-4, RFC 2104), written for size: one round loop each and
//! a shared block buffer. RustCrypto's `hmac`/`sha2`/`sha1` (unrolled rounds) cost about four
//! times the flash and twice the stack on the Cortex-M4 image (docs/CLOUDS.md, "Cost").
//! Credentials are signed once per connect, so speed does not matter here.
//! Checked against Python's `hashlib`/`hmac` by tests/cloud_sign.rs (4,000 random inputs).

use crate::bytes::copy_into;

/// Bytes of a SHA-256 or SHA-1 block, and of an HMAC key block.
pub const BLOCK: usize = 64;

/// Which hash; each is built only with its feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha1,
}

impl Hash {
    /// Whether this build has the hash (its feature).
    pub const fn available(self) -> bool {
        match self {
            Hash::Sha256 => cfg!(feature = "hmac-sha256"),
            Hash::Sha1 => cfg!(feature = "hmac-sha1"),
        }
    }
}

/// A running hash: chaining words, the partial block, the bytes hashed so far.
#[derive(Clone)]
pub struct Digest {
    hash: Hash,
    h: [u32; 8],
    buf: [u8; BLOCK],
    buf_len: usize,
    total: u64,
}

impl Digest {
    pub const EMPTY: Digest = Digest {
        hash: Hash::Sha256,
        h: [0; 8],
        buf: [0; BLOCK],
        buf_len: 0,
        total: 0,
    };

    /// Starts a new hash in place (no copy of the state on the stack); false for a hash this
    /// build does not have.
    pub fn reset(&mut self, hash: Hash) -> bool {
        let h = match hash {
            #[cfg(feature = "hmac-sha256")]
            Hash::Sha256 => [
                0x6a09_e667,
                0xbb67_ae85,
                0x3c6e_f372,
                0xa54f_f53a,
                0x510e_527f,
                0x9b05_688c,
                0x1f83_d9ab,
                0x5be0_cd19,
            ],
            #[cfg(feature = "hmac-sha1")]
            Hash::Sha1 => [
                0x6745_2301,
                0xefcd_ab89,
                0x98ba_dcfe,
                0x1032_5476,
                0xc3d2_e1f0,
                0,
                0,
                0,
            ],
            #[allow(unreachable_patterns)]
            _ => return false,
        };
        self.hash = hash;
        self.h = h;
        self.buf_len = 0;
        self.total = 0;
        true
    }

    /// Bytes of the output: 32 or 20.
    pub fn out_len(&self) -> usize {
        match self.hash {
            Hash::Sha256 => 32,
            Hash::Sha1 => 20,
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        while !data.is_empty() {
            let room = BLOCK - self.buf_len.min(BLOCK);
            let (now, rest) = data.split_at(room.min(data.len()));
            if let Some(slot) = self.buf.get_mut(self.buf_len..) {
                copy_into(slot, now);
            }
            self.buf_len += now.len();
            data = rest;
            if self.buf_len >= BLOCK {
                self.compress();
                self.buf_len = 0;
            }
        }
    }

    /// The hash into `out`; its length. By reference: the state is not copied (stack).
    pub fn finish(&mut self, out: &mut [u8; 32]) -> usize {
        let bits = self.total.wrapping_mul(8);
        self.update(&[0x80]);
        while self.buf_len != BLOCK - 8 {
            self.update(&[0]);
        }
        self.update(&bits.to_be_bytes());
        let len = self.out_len();
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.h).take(len / 4) {
            copy_into(chunk, &word.to_be_bytes());
        }
        len
    }

    fn compress(&mut self) {
        // The message schedule, 16 words kept rolling (w[t & 15]).
        let mut w = [0u32; 16];
        for (word, bytes) in w.iter_mut().zip(self.buf.chunks_exact(4)) {
            *word = u32::from_be_bytes([
                bytes.first().copied().unwrap_or(0),
                bytes.get(1).copied().unwrap_or(0),
                bytes.get(2).copied().unwrap_or(0),
                bytes.get(3).copied().unwrap_or(0),
            ]);
        }
        match self.hash {
            #[cfg(feature = "hmac-sha256")]
            Hash::Sha256 => sha256_rounds(&mut self.h, &mut w),
            #[cfg(feature = "hmac-sha1")]
            Hash::Sha1 => sha1_rounds(&mut self.h, &mut w),
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }
}

/// `w[t & 15]` (the mask makes the bound provable: no panic branch).
fn at(w: &[u32; 16], t: usize) -> u32 {
    w.get(t & 15).copied().unwrap_or(0)
}

/// Word `t` of the schedule, computed in place once `t >= 16`.
fn schedule(w: &mut [u32; 16], t: usize, next: impl Fn(&[u32; 16]) -> u32) -> u32 {
    if t >= 16 {
        let value = next(w);
        if let Some(slot) = w.get_mut(t & 15) {
            *slot = value;
        }
    }
    at(w, t)
}

#[cfg(feature = "hmac-sha256")]
const K256: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

#[cfg(feature = "hmac-sha256")]
fn sha256_rounds(h: &mut [u32; 8], w: &mut [u32; 16]) {
    let mut v = *h;
    for (t, k) in K256.iter().enumerate() {
        let wt = schedule(w, t, |w| {
            let (w15, w2) = (at(w, t + 1), at(w, t + 14));
            let s0 = w15.rotate_right(7) ^ w15.rotate_right(18) ^ (w15 >> 3);
            let s1 = w2.rotate_right(17) ^ w2.rotate_right(19) ^ (w2 >> 10);
            at(w, t)
                .wrapping_add(s0)
                .wrapping_add(at(w, t + 9))
                .wrapping_add(s1)
        });
        let [a, b, c, d, e, f, g, hh] = v;
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = hh
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(*k)
            .wrapping_add(wt);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        v = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
    }
    for (word, add) in h.iter_mut().zip(v) {
        *word = word.wrapping_add(add);
    }
}

#[cfg(feature = "hmac-sha1")]
fn sha1_rounds(h: &mut [u32; 8], w: &mut [u32; 16]) {
    let [mut a, mut b, mut c, mut d, mut e, ..] = *h;
    for t in 0..80 {
        let wt = schedule(w, t, |w| {
            (at(w, t + 13) ^ at(w, t + 8) ^ at(w, t + 2) ^ at(w, t)).rotate_left(1)
        });
        let (f, k) = match t {
            0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
            20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
            40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
            _ => (b ^ c ^ d, 0xca62_c1d6),
        };
        let temp = a
            .rotate_left(5)
            .wrapping_add(f)
            .wrapping_add(e)
            .wrapping_add(k)
            .wrapping_add(wt);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = temp;
    }
    for (word, add) in h.iter_mut().zip([a, b, c, d, e]) {
        *word = word.wrapping_add(add);
    }
}

/// HMAC (RFC 2104) over a [`Digest`].
pub struct Hmac {
    inner: Digest,
    outer: Digest,
}

impl Hmac {
    pub const EMPTY: Hmac = Hmac {
        inner: Digest::EMPTY,
        outer: Digest::EMPTY,
    };

    /// Starts a MAC under `key` in place; false for a hash this build does not have.
    pub fn init(&mut self, hash: Hash, key: &[u8]) -> bool {
        self.init_with(hash, |k0| {
            if key.len() > BLOCK {
                hash_long_key(hash, |digest| digest.update(key), k0);
            } else {
                copy_into(k0, key);
            }
            true
        })
    }

    /// Starts a MAC whose block-sized key `fill_key` writes into the zeroed block (a key longer
    /// than a block hashed first, RFC 2104); false when `fill_key` or the hash fails.
    pub fn init_with(
        &mut self,
        hash: Hash,
        fill_key: impl FnOnce(&mut [u8; BLOCK]) -> bool,
    ) -> bool {
        if !(self.inner.reset(hash) && self.outer.reset(hash)) {
            return false;
        }
        let mut k0 = [0u8; BLOCK];
        if !fill_key(&mut k0) {
            return false;
        }
        // One pad buffer, flipped from the inner pad to the outer in place.
        for b in k0.iter_mut() {
            *b ^= 0x36;
        }
        self.inner.update(&k0);
        for b in k0.iter_mut() {
            *b ^= 0x36 ^ 0x5c;
        }
        self.outer.update(&k0);
        true
    }

    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// The tag into `out`; its length (32 or 20).
    pub fn finish(&mut self, out: &mut [u8; 32]) -> usize {
        let len = self.inner.finish(out);
        self.outer.update(out.get(..len).unwrap_or(&[]));
        self.outer.finish(out)
    }
}

/// Writes into `k0` the hash of the key `feed` gives: a key longer than a block stands for its
/// hash (RFC 2104). Out of line, so its digest takes stack only for such keys. `feed`'s answer.
#[inline(never)]
pub fn hash_long_key<T>(
    hash: Hash,
    feed: impl FnOnce(&mut Digest) -> T,
    k0: &mut [u8; BLOCK],
) -> T {
    let mut long = Digest::EMPTY;
    long.reset(hash);
    let fed = feed(&mut long);
    let mut sum = [0u8; 32];
    let len = long.finish(&mut sum);
    copy_into(k0, sum.get(..len).unwrap_or(&[]));
    fed
}

#[cfg(all(test, feature = "hmac-sha256", feature = "hmac-sha1"))]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> std::string::String {
        bytes.iter().map(|b| std::format!("{b:02x}")).collect()
    }

    fn digest(hash: Hash, data: &[u8]) -> std::string::String {
        let mut d = Digest::EMPTY;
        assert!(d.reset(hash));
        // In uneven pieces, across the block boundaries.
        for piece in data.chunks(7) {
            d.update(piece);
        }
        let mut out = [0u8; 32];
        let len = d.finish(&mut out);
        hex(&out[..len])
    }

    fn hmac(hash: Hash, key: &[u8], data: &[u8]) -> std::string::String {
        let mut m = Hmac::EMPTY;
        assert!(m.init(hash, key));
        m.update(data);
        let mut out = [0u8; 32];
        let len = m.finish(&mut out);
        hex(&out[..len])
    }

    /// FIPS 180-2 appendix examples, and RFC 4231 / RFC 2202 HMAC test case 1 (and a key
    /// longer than a block).
    #[test]
    fn published_vectors() {
        let two_blocks = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(
            digest(Hash::Sha256, b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            digest(Hash::Sha256, b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            digest(Hash::Sha256, two_blocks),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            digest(Hash::Sha1, b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            digest(Hash::Sha1, b""),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        assert_eq!(
            digest(Hash::Sha1, two_blocks),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(
            hmac(Hash::Sha256, &[0x0b; 20], b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hmac(Hash::Sha1, &[0x0b; 20], b"Hi There"),
            "b617318655057264e28bc0b6fb378c8ef146be00"
        );
        // RFC 4231 test case 6: a 131-byte key is hashed first.
        assert_eq!(
            hmac(
                Hash::Sha256,
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
