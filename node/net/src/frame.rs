//! Frames on a replica connection: a 4-byte big-endian length, a lane byte, the payload.
//! The length is checked against the limit before anything is allocated, so a peer cannot
//! make a replica reserve memory it did not agree to.

use crate::Lane;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A frame that cannot be accepted; the connection it came on is closed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Longer than the limit.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Announced length.
        len: u32,
        /// Limit.
        max: u32,
    },
    /// A length of zero (a frame has at least its lane byte).
    #[error("empty frame")]
    Empty,
    /// Unknown lane.
    #[error("unknown lane {0}")]
    Lane(u8),
    /// The connection failed or closed mid-frame.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
}

impl Lane {
    fn byte(self) -> u8 {
        match self {
            Lane::Consensus => 0,
            Lane::Bulk => 1,
        }
    }

    fn from_byte(b: u8) -> Result<Self, FrameError> {
        match b {
            0 => Ok(Lane::Consensus),
            1 => Ok(Lane::Bulk),
            other => Err(FrameError::Lane(other)),
        }
    }
}

/// Writes one frame (not flushed).
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, lane: Lane, payload: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(payload.len() + 1).map_err(|_| std::io::Error::other("frame over 4 GiB"))?;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(&[lane.byte()]).await?;
    w.write_all(payload).await
}

/// Reads one frame; `Ok(None)` on a clean end of stream between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, max: u32) -> Result<Option<(Lane, Bytes)>, FrameError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len);
    if len == 0 {
        return Err(FrameError::Empty);
    }
    if len > max.saturating_add(1) {
        return Err(FrameError::TooLarge { len, max });
    }
    let mut lane = [0u8; 1];
    r.read_exact(&mut lane).await?;
    let lane = Lane::from_byte(lane[0])?;
    let mut payload = vec![0u8; (len - 1) as usize];
    r.read_exact(&mut payload).await?;
    Ok(Some((lane, payload.into())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(bytes: &[u8], max: u32) -> Vec<Result<Option<(Lane, Bytes)>, String>> {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut r = bytes;
            let mut out = Vec::new();
            loop {
                match read_frame(&mut r, max).await {
                    Ok(Some(f)) => out.push(Ok(Some(f))),
                    Ok(None) => {
                        out.push(Ok(None));
                        break;
                    }
                    Err(e) => {
                        out.push(Err(e.to_string()));
                        break;
                    }
                }
            }
            out
        })
    }

    #[test]
    fn round_trip_both_lanes() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut buf = Vec::new();
        rt.block_on(async {
            write_frame(&mut buf, Lane::Consensus, b"vote").await.unwrap();
            write_frame(&mut buf, Lane::Bulk, &[7u8; 1000]).await.unwrap();
        });
        let got = decode_all(&buf, 4096);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].as_ref().unwrap().as_ref().unwrap(), &(Lane::Consensus, Bytes::from_static(b"vote")));
        assert_eq!(got[1].as_ref().unwrap().as_ref().unwrap().0, Lane::Bulk);
        assert!(matches!(got[2], Ok(None)));
    }

    #[test]
    fn oversize_empty_and_bad_lane_are_refused() {
        let mut big = (10_000u32).to_be_bytes().to_vec();
        big.push(0);
        assert!(decode_all(&big, 100)[0].as_ref().unwrap_err().contains("exceeds"));
        assert!(decode_all(&[0, 0, 0, 0], 100)[0].as_ref().unwrap_err().contains("empty"));
        assert!(decode_all(&[0, 0, 0, 2, 9, 1], 100)[0].as_ref().unwrap_err().contains("lane"));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let out = decode_all(&bytes, 64);
            prop_assert!(!out.is_empty());
        }

        #[test]
        fn truncated_frames_are_errors(payload in proptest::collection::vec(any::<u8>(), 1..200), cut in 1usize..200) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let mut buf = Vec::new();
            rt.block_on(write_frame(&mut buf, Lane::Consensus, &payload)).unwrap();
            let cut = cut.min(buf.len() - 1);
            let out = decode_all(&buf[..cut], 4096);
            // A cut inside the length prefix reads as a clean end only at zero bytes.
            prop_assert!(out[0].is_err() || (cut < 4 && matches!(out[0], Ok(None))));
        }
    }
}
