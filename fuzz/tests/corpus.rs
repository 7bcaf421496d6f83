//! Stable-toolchain smoke test: every seed (`seeds/<target>/`), every file of a local fuzzing
//! corpus (`corpus/<target>/`, if one exists), and a few thousand deterministic mutations of
//! the seeds go through the same property checks as the libFuzzer targets.

use std::path::Path;

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["seeds", "corpus", "artifacts"] {
        let Ok(rd) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut files: Vec<_> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            out.push(std::fs::read(&f).expect("readable corpus file"));
        }
    }
    assert!(!out.is_empty(), "no seeds for {target}");
    out
}

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], dictionary: &[&[u8]]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v.truncate(i);
            }
            2 => {
                let i = rng.below(v.len() + 1);
                let word = dictionary[rng.below(dictionary.len())];
                v.splice(i..i, word.iter().copied());
            }
            3 if v.len() > 1 => {
                let i = rng.below(v.len());
                let j = i + rng.below(v.len() - i);
                v.drain(i..j);
            }
            4 if !v.is_empty() => {
                let i = rng.below(v.len());
                let j = i + rng.below(v.len() - i);
                let dup = v[i..j].to_vec();
                v.splice(j..j, dup);
            }
            _ => v.push(rng.next() as u8),
        }
    }
    v
}

#[test]
fn rpc_request_corpus() {
    let seeds = inputs("rpc_request");
    let dict: &[&[u8]] = &[
        b"/",
        b"?",
        b"&",
        b"=",
        b"%",
        b"%2F",
        b"+",
        b";",
        b"arg=",
        b"timeout=",
        b"1h",
        b".5",
        b"/api/v0/",
        b"pin/add",
        b"0x",
        b"_",
    ];
    let mut rng = Rng(0x5EED_0001);
    for s in &seeds {
        pinfold_fuzz::check_rpc_request(s);
    }
    for _ in 0..5000 {
        let s = &seeds[rng.below(seeds.len())];
        pinfold_fuzz::check_rpc_request(&mutate(&mut rng, s, dict));
    }
}

#[test]
fn multipart_corpus() {
    let seeds = inputs("multipart");
    let dict: &[&[u8]] = &[
        b"\r\n",
        b"\n",
        b"--B",
        b"\r\n--B",
        b"--B--",
        b"--",
        b" ",
        b"\t",
        b"\r\n\r\n",
        b"Content-Type: application/x-directory\r\n",
        b"Content-Type: application/symlink\r\n",
        b"Content-Disposition: form-data; name=\"f?mode=0644&mtime=1\"; filename=\"a%2Fb\"\r\n",
        b"abspath-encoded: %2Fx\r\n",
        b" folded\r\n",
        b"..",
        b"%00",
    ];
    let mut rng = Rng(0x5EED_0002);
    for s in &seeds {
        pinfold_fuzz::check_multipart(s);
    }
    for _ in 0..3000 {
        let s = &seeds[rng.below(seeds.len())];
        pinfold_fuzz::check_multipart(&mutate(&mut rng, s, dict));
    }
}
