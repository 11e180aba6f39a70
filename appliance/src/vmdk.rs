//! Reading the header of a sparse (streamOptimized) VMDK: capacity, version, subformat.
//!
//! The OVF `Disk` capacity must equal the virtual size recorded in the VMDK, so the descriptor
//! generator and the checker both read it from here rather than trusting a number passed in.
//! Layout (VMware "Virtual Disk Format 5.0", SparseExtentHeader, little-endian): magic `KDMV`
//! at 0, version u32 at 4, flags u32 at 8, capacity u64 (sectors) at 12, grain size u64 at 20,
//! descriptor offset u64 (sectors) at 28, descriptor size u64 (sectors) at 36.

use std::io::Read;

/// Bytes per VMDK sector.
pub const SECTOR_BYTES: u64 = 512;
/// Flag bit: grains are compressed (set by streamOptimized).
pub const FLAG_COMPRESSED: u32 = 1 << 16;
/// Flag bit: the stream has markers (set by streamOptimized).
pub const FLAG_MARKERS: u32 = 1 << 17;
/// Largest embedded descriptor we read.
const DESCRIPTOR_BYTES_MAX: u64 = 64 * 1024;

/// Facts read from a VMDK header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmdkInfo {
    /// Sparse format version (ESXi refuses 1).
    pub version: u32,
    /// Header flags.
    pub flags: u32,
    /// Virtual disk size in bytes.
    pub capacity_bytes: u64,
    /// `createType` from the embedded descriptor.
    pub create_type: String,
}

/// Why a VMDK header was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VmdkError {
    /// Could not read it.
    #[error("reading VMDK: {0}")]
    Io(#[from] std::io::Error),
    /// Not a sparse VMDK.
    #[error("not a sparse VMDK (magic {0:02x?})")]
    Magic([u8; 4]),
    /// Header fields out of range.
    #[error("VMDK header is inconsistent: {0}")]
    Header(String),
}

/// Reads the header and embedded descriptor from the start of a VMDK stream.
pub fn read_info(mut r: impl Read) -> Result<VmdkInfo, VmdkError> {
    let mut head = [0u8; 512];
    r.read_exact(&mut head)?;
    let u32_at = |o: usize| -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&head[o..o + 4]);
        u32::from_le_bytes(b)
    };
    let u64_at = |o: usize| -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&head[o..o + 8]);
        u64::from_le_bytes(b)
    };
    let mut magic = [0u8; 4];
    magic.copy_from_slice(&head[0..4]);
    if &magic != b"KDMV" {
        return Err(VmdkError::Magic(magic));
    }
    let version = u32_at(4);
    let flags = u32_at(8);
    let capacity_bytes = u64_at(12)
        .checked_mul(SECTOR_BYTES)
        .ok_or_else(|| VmdkError::Header("capacity overflows".into()))?;
    let desc_offset = u64_at(28);
    let desc_size = u64_at(36)
        .checked_mul(SECTOR_BYTES)
        .filter(|s| *s <= DESCRIPTOR_BYTES_MAX)
        .ok_or_else(|| VmdkError::Header("descriptor size out of range".into()))?;
    // The descriptor follows the header sector directly in every stream we produce.
    if desc_offset != 1 {
        return Err(VmdkError::Header(format!(
            "descriptor at sector {desc_offset}, expected 1"
        )));
    }
    let mut desc = vec![
        0u8;
        usize::try_from(desc_size)
            .map_err(|_| VmdkError::Header("descriptor size".into()))?
    ];
    r.read_exact(&mut desc)?;
    let text = String::from_utf8_lossy(&desc);
    let create_type = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("createType=")
                .map(|v| v.trim_matches('"').to_owned())
        })
        .ok_or_else(|| VmdkError::Header("no createType in descriptor".into()))?;
    Ok(VmdkInfo {
        version,
        flags,
        capacity_bytes,
        create_type,
    })
}

impl VmdkInfo {
    /// Whether this is a streamOptimized VMDK that ESXi accepts (version 2 or later).
    pub fn check_stream_optimized(&self) -> Result<(), String> {
        if self.create_type != "streamOptimized" {
            return Err(format!(
                "createType is {:?}, expected streamOptimized",
                self.create_type
            ));
        }
        if self.version < 2 {
            return Err(format!(
                "sparse version {} is too old for ESXi (needs 2 or 3)",
                self.version
            ));
        }
        if self.flags & FLAG_COMPRESSED == 0 || self.flags & FLAG_MARKERS == 0 {
            return Err(format!("flags {:#x} lack compression/markers", self.flags));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A synthetic stream header + descriptor like qemu-img's.
    pub(crate) fn fake_vmdk(capacity_sectors: u64) -> Vec<u8> {
        let mut v = vec![0u8; 512];
        v[0..4].copy_from_slice(b"KDMV");
        v[4..8].copy_from_slice(&3u32.to_le_bytes());
        v[8..12].copy_from_slice(&(0x30003u32).to_le_bytes());
        v[12..20].copy_from_slice(&capacity_sectors.to_le_bytes());
        v[20..28].copy_from_slice(&128u64.to_le_bytes());
        v[28..36].copy_from_slice(&1u64.to_le_bytes());
        v[36..44].copy_from_slice(&1u64.to_le_bytes());
        let mut d = b"# Disk DescriptorFile\nversion=1\ncreateType=\"streamOptimized\"\n".to_vec();
        d.resize(512, 0);
        v.extend(d);
        v
    }

    #[test]
    fn reads_capacity_and_type() -> Result<(), VmdkError> {
        let info = read_info(&fake_vmdk(2048)[..])?;
        assert_eq!(info.capacity_bytes, 1024 * 1024);
        assert_eq!(info.check_stream_optimized(), Ok(()));
        Ok(())
    }

    #[test]
    fn rejects_non_vmdk_and_old_versions() {
        assert!(matches!(
            read_info(&[0u8; 1024][..]),
            Err(VmdkError::Magic(_))
        ));
        assert!(matches!(read_info(&b"KDMV"[..]), Err(VmdkError::Io(_))));
        let mut v = fake_vmdk(8);
        v[4..8].copy_from_slice(&1u32.to_le_bytes());
        let info = read_info(&v[..]).ok();
        assert!(info.is_some_and(|i| i.check_stream_optimized().is_err()));
        let mut v = fake_vmdk(8);
        v[36..44].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(read_info(&v[..]), Err(VmdkError::Header(_))));
    }
}
