//! A minimal tar writer (ustar headers, GNU long names) to build image
//! archives by hand, including hostile ones that a real tar tool would
//! refuse to produce.

/// Builds a tar archive in memory.
#[derive(Default)]
pub struct TarBuilder {
    out: Vec<u8>,
}

const BLOCK: usize = 512;

fn octal(field: &mut [u8], value: u64) {
    // width-1 octal digits, NUL-terminated.
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    assert!(s.len() <= digits, "value {value} does not fit a tar field");
    field[..digits].copy_from_slice(s.as_bytes());
    field[digits] = 0;
}

impl TarBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn header(&mut self, name: &str, typeflag: u8, size: u64, mode: u32, linkname: &str) {
        if name.len() > 100 {
            // GNU long name: a pseudo entry carrying the full name.
            let mut data = name.as_bytes().to_vec();
            data.push(0);
            self.header("././@LongLink", b'L', data.len() as u64, 0o644, "");
            self.data(&data);
        }
        if linkname.len() > 100 {
            let mut data = linkname.as_bytes().to_vec();
            data.push(0);
            self.header("././@LongLink", b'K', data.len() as u64, 0o644, "");
            self.data(&data);
        }
        let mut h = [0u8; BLOCK];
        let n = name.as_bytes();
        let n = &n[..n.len().min(100)];
        h[..n.len()].copy_from_slice(n);
        octal(&mut h[100..108], mode as u64);
        octal(&mut h[108..116], 0);
        octal(&mut h[116..124], 0);
        octal(&mut h[124..136], size);
        octal(&mut h[136..148], 1_704_067_200);
        h[156] = typeflag;
        let l = linkname.as_bytes();
        let l = &l[..l.len().min(100)];
        h[157..157 + l.len()].copy_from_slice(l);
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[265..269].copy_from_slice(b"root");
        h[297..301].copy_from_slice(b"root");
        // Checksum: computed with the checksum field as spaces.
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        let s = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(s.as_bytes());
        self.out.extend_from_slice(&h);
    }

    fn data(&mut self, data: &[u8]) {
        self.out.extend_from_slice(data);
        let pad = (BLOCK - data.len() % BLOCK) % BLOCK;
        self.out.extend(std::iter::repeat_n(0u8, pad));
    }

    /// A regular file.
    pub fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.header(name, b'0', data.len() as u64, 0o644, "");
        self.data(data);
        self
    }

    /// A directory.
    pub fn dir(&mut self, name: &str) -> &mut Self {
        self.dir_mode(name, 0o755)
    }

    /// A directory with permission bits `mode`.
    pub fn dir_mode(&mut self, name: &str, mode: u32) -> &mut Self {
        self.header(name, b'5', 0, mode, "");
        self
    }

    /// A symbolic link `name -> target`.
    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.header(name, b'2', 0, 0o777, target);
        self
    }

    /// A hard link `name` to the archive member `target`.
    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.header(name, b'1', 0, 0o644, target);
        self
    }

    /// The archive with its two zero end blocks.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.out);
        out.extend(std::iter::repeat_n(0u8, 2 * BLOCK));
        out
    }
}

/// sha256 of `data` as lowercase hex (a small self-contained implementation:
/// image archives need content digests and the test crate has no hash crate).
pub fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                chunk[4 * i],
                chunk[4 * i + 1],
                chunk[4 * i + 2],
                chunk[4 * i + 3],
            ]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut a = h;
        for i in 0..64 {
            let s1 = a[4].rotate_right(6) ^ a[4].rotate_right(11) ^ a[4].rotate_right(25);
            let ch = (a[4] & a[5]) ^ (!a[4] & a[6]);
            let t1 = a[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a[0].rotate_right(2) ^ a[0].rotate_right(13) ^ a[0].rotate_right(22);
            let maj = (a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]);
            let t2 = s0.wrapping_add(maj);
            a[7] = a[6];
            a[6] = a[5];
            a[5] = a[4];
            a[4] = a[3].wrapping_add(t1);
            a[3] = a[2];
            a[2] = a[1];
            a[1] = a[0];
            a[0] = t1.wrapping_add(t2);
        }
        for i in 0..8 {
            h[i] = h[i].wrapping_add(a[i]);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

/// The pieces of a minimal valid docker-archive with one layer, to which
/// tests add hostile entries.
pub struct DockerArchive {
    pub config: Vec<u8>,
    pub config_name: String,
    pub layer: Vec<u8>,
    pub layer_dir: String,
    pub manifest: Vec<u8>,
}

impl DockerArchive {
    /// A one-layer image holding `/hello.txt`, tagged `tag`.
    pub fn new(tag: &str) -> Self {
        let layer = TarBuilder::new().file("hello.txt", b"hello\n").finish();
        let diff_id = format!("sha256:{}", sha256_hex(&layer));
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/hello"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "pouch-tests"}],
        }))
        .unwrap();
        let config_hex = sha256_hex(&config);
        let config_name = format!("{config_hex}.json");
        let layer_dir = sha256_hex(&layer);
        let manifest = serde_json::to_vec(&serde_json::json!([{
            "Config": config_name,
            "RepoTags": [tag],
            "Layers": [format!("{layer_dir}/layer.tar")],
        }]))
        .unwrap();
        DockerArchive {
            config,
            config_name,
            layer,
            layer_dir,
            manifest,
        }
    }

    /// Adds the regular members (all but the layer file itself).
    pub fn add_metadata(&self, t: &mut TarBuilder) {
        t.file("manifest.json", &self.manifest);
        t.file(&self.config_name, &self.config);
        t.dir(&format!("{}/", self.layer_dir));
        t.file(&format!("{}/VERSION", self.layer_dir), b"1.0");
    }

    /// The whole, valid archive.
    pub fn valid(&self) -> Vec<u8> {
        let mut t = TarBuilder::new();
        self.add_metadata(&mut t);
        t.file(&format!("{}/layer.tar", self.layer_dir), &self.layer);
        t.finish()
    }
}

/// A docker-archive of a small image tagged `tag`: one layer per entry of
/// `layers` (each a tar holding `/<file>` with the given content), the
/// given `created` time, labels and config history.
pub fn image_archive(
    tag: &str,
    created: &str,
    labels: serde_json::Value,
    layers: &[(&str, &str)],
    history: serde_json::Value,
) -> Vec<u8> {
    let tars: Vec<Vec<u8>> = layers
        .iter()
        .map(|(f, c)| TarBuilder::new().file(f, c.as_bytes()).finish())
        .collect();
    let diff_ids: Vec<String> = tars
        .iter()
        .map(|t| format!("sha256:{}", sha256_hex(t)))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": created,
        "config": {"Cmd": ["/hello"], "Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .unwrap();
    let config_name = format!("{}.json", sha256_hex(&config));
    let layer_names: Vec<String> = tars
        .iter()
        .map(|t| format!("{}/layer.tar", sha256_hex(t)))
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": config_name, "RepoTags": [tag], "Layers": layer_names,
    }]))
    .unwrap();
    let mut b = TarBuilder::new();
    b.file("manifest.json", &manifest);
    b.file(&config_name, &config);
    for (name, t) in layer_names.iter().zip(&tars) {
        b.file(name, t);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_values() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(
            sha256_hex(&long),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
    }

    #[test]
    fn tar_checksum_and_padding() {
        let t = TarBuilder::new().file("a", b"xyz").finish();
        assert_eq!(t.len(), 512 * 4);
        let sum: u32 = t[..512]
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    b as u32
                }
            })
            .sum();
        let field = std::str::from_utf8(&t[148..154]).unwrap();
        assert_eq!(u32::from_str_radix(field, 8).unwrap(), sum);
    }
}
