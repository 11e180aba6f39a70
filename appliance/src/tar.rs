//! Reading the members of an OVA (a USTAR archive) as a stream, for the static checker.
//!
//! Only what an OVA may contain is accepted: regular files with USTAR headers and valid
//! checksums, ending with the two zero blocks. Member data is handed to a callback as a reader
//! so a 150 MB disk is hashed without being held in memory.

use std::io::{self, Read};

const BLOCK: usize = 512;

/// One member's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Name (with the USTAR prefix joined).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
}

/// A malformed archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TarError {
    /// Reading failed.
    #[error("reading the OVA: {0}")]
    Io(#[from] io::Error),
    /// A header that is not USTAR or has a bad checksum or type.
    #[error("member #{index}: {reason}")]
    Header {
        /// 1-based member position.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

fn octal(field: &[u8]) -> Option<u64> {
    let s: Vec<u8> = field
        .iter()
        .copied()
        .take_while(|b| *b != 0 && *b != b' ')
        .collect();
    let s = std::str::from_utf8(&s).ok()?;
    let s = s.trim_start();
    if s.is_empty() {
        Some(0)
    } else {
        u64::from_str_radix(s, 8).ok()
    }
}

fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Walks every member, calling `visit(member, data)`; `data` reads exactly the member's bytes.
pub fn for_each_member(
    mut r: impl Read,
    mut visit: impl FnMut(&Member, &mut dyn Read) -> io::Result<()>,
) -> Result<Vec<Member>, TarError> {
    let mut members = Vec::new();
    let mut block = [0u8; BLOCK];
    loop {
        let index = members.len() + 1;
        r.read_exact(&mut block)?;
        if block.iter().all(|b| *b == 0) {
            r.read_exact(&mut block)?;
            if block.iter().all(|b| *b == 0) {
                return Ok(members);
            }
            return Err(TarError::Header {
                index,
                reason: "single zero block before the end".into(),
            });
        }
        let herr = |reason: String| TarError::Header { index, reason };
        if &block[257..263] != b"ustar\0" || &block[263..265] != b"00" {
            return Err(herr("not a POSIX ustar header".into()));
        }
        let want = octal(&block[148..156]).ok_or_else(|| herr("bad checksum field".into()))?;
        let got: u64 = block
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(*b)
                }
            })
            .sum();
        if want != got {
            return Err(herr(format!("header checksum {want} != computed {got}")));
        }
        let typeflag = block[156];
        if typeflag != b'0' && typeflag != 0 {
            return Err(herr(format!(
                "type {:?} is not a regular file",
                char::from(typeflag)
            )));
        }
        let size = octal(&block[124..136]).ok_or_else(|| herr("bad size field".into()))?;
        let mode = octal(&block[100..108])
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or(0);
        let prefix = cstr(&block[345..500]);
        let base = cstr(&block[0..100]);
        let name = if prefix.is_empty() {
            base
        } else {
            format!("{prefix}/{base}")
        };
        let member = Member { name, size, mode };
        let mut data = (&mut r).take(size);
        visit(&member, &mut data)?;
        // Drain whatever the visitor did not read, then the padding to the block boundary.
        io::copy(&mut data, &mut io::sink())?;
        let pad = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        io::copy(&mut (&mut r).take(pad), &mut io::sink())?;
        members.push(member);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a minimal ustar archive (what GNU tar --format=ustar writes, for our purposes).
    pub(crate) fn build(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in files {
            let mut h = [0u8; BLOCK];
            h[..name.len()].copy_from_slice(name.as_bytes());
            h[100..108].copy_from_slice(b"0000644\0");
            h[108..116].copy_from_slice(b"0000000\0");
            h[116..124].copy_from_slice(b"0000000\0");
            h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
            h[136..148].copy_from_slice(b"00000000000\0");
            h[156] = b'0';
            h[257..263].copy_from_slice(b"ustar\0");
            h[263..265].copy_from_slice(b"00");
            h[148..156].copy_from_slice(b"        ");
            let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
            h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
            out.extend_from_slice(&h);
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        }
        out.extend_from_slice(&[0u8; BLOCK * 2]);
        out
    }

    #[test]
    fn reads_members_in_order() -> Result<(), TarError> {
        let tar = build(&[("a.ovf", b"hello"), ("b.mf", &[7u8; 1000])]);
        let mut sizes = Vec::new();
        let m = for_each_member(&tar[..], |m, d| {
            let mut v = Vec::new();
            d.read_to_end(&mut v)?;
            sizes.push((m.name.clone(), v.len()));
            Ok(())
        })?;
        assert_eq!(m.len(), 2);
        assert_eq!(
            sizes,
            vec![("a.ovf".to_owned(), 5), ("b.mf".to_owned(), 1000)]
        );
        Ok(())
    }

    #[test]
    fn rejects_corruption_and_truncation() {
        let mut tar = build(&[("a.ovf", b"hello")]);
        tar[0] = b'b';
        assert!(matches!(
            for_each_member(&tar[..], |_, _| Ok(())),
            Err(TarError::Header { .. })
        ));
        let tar = build(&[("a.ovf", b"hello")]);
        assert!(matches!(
            for_each_member(&tar[..600], |_, _| Ok(())),
            Err(TarError::Io(_))
        ));
        let mut tar = build(&[("a.ovf", b"hello")]);
        tar[257] = b'x';
        assert!(matches!(
            for_each_member(&tar[..], |_, _| Ok(())),
            Err(TarError::Header { .. })
        ));
    }
}
