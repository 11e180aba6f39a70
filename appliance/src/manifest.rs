//! The OVF manifest (`.mf`): one `SHA256(name)= hex` line per file, written by our own code.
//!
//! vCenter 8 refuses other spellings: `SHA256 (x) = …` (sha256sum `--tag`) and OpenSSL 3's
//! `SHA2-256(x)= …` both fail with "Invalid OVF checksum algorithm" (design note §1.5).

use std::io::Read;

use sha2::{Digest, Sha256};

/// One manifest entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// File name as in the OVA.
    pub name: String,
    /// Lower-case hex SHA-256.
    pub sha256_hex: String,
}

/// A malformed manifest line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("manifest line {line}: {reason}")]
pub struct ManifestError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Formats the manifest text.
pub fn render(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|e| format!("SHA256({})= {}\n", e.name, e.sha256_hex))
        .collect()
}

/// Parses manifest text strictly: only `SHA256(name)= <64 lower-case hex>` lines.
pub fn parse(text: &str) -> Result<Vec<Entry>, ManifestError> {
    let mut out: Vec<Entry> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let err = |reason: &str| ManifestError {
            line: i + 1,
            reason: reason.to_owned(),
        };
        let rest = line
            .strip_prefix("SHA256(")
            .ok_or_else(|| err("does not start with SHA256("))?;
        let (name, hex) = rest
            .split_once(")= ")
            .ok_or_else(|| err("expected ')= ' after the name"))?;
        if name.is_empty() || name.contains('/') {
            return Err(err("bad file name"));
        }
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(err("digest is not 64 lower-case hex digits"));
        }
        if out.iter().any(|e| e.name == name) {
            return Err(err("file listed twice"));
        }
        out.push(Entry {
            name: name.to_owned(),
            sha256_hex: hex.to_owned(),
        });
    }
    Ok(out)
}

/// SHA-256 of a stream, as lower-case hex.
pub fn sha256_hex(mut r: impl Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() -> Result<(), ManifestError> {
        let e = vec![Entry {
            name: "a.ovf".into(),
            sha256_hex: sha256_hex(&b"x"[..]).unwrap_or_default(),
        }];
        let text = render(&e);
        assert_eq!(
            text,
            "SHA256(a.ovf)= 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881\n"
        );
        assert_eq!(parse(&text)?, e);
        Ok(())
    }

    #[test]
    fn refuses_spellings_vcenter_refuses() {
        let h = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
        for bad in [
            format!("SHA256 (a.ovf) = {h}"),
            format!("SHA2-256(a.ovf)= {h}"),
            format!("SHA1(a.ovf)= {h}"),
            format!("SHA256(a.ovf)={h}"),
            format!("SHA256(a.ovf)= {}", h.to_uppercase()),
            format!("SHA256(a.ovf)= {}", &h[1..]),
            format!("SHA256(a.ovf)= {h}\nSHA256(a.ovf)= {h}"),
            format!("SHA256(../a)= {h}"),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }
}
