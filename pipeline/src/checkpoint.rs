//! Restart safety: what the pipeline commits per input partition, and how
//! it travels in the consumer group's offset metadata.
//!
//! The committed offset is the oldest input record that open state still
//! needs, not the consumed position. A restarted pipeline reads from there
//! with the stream time it had just before that record, so it takes exactly
//! the admission decisions it took the first time and rebuilds exactly the
//! same state. Outputs of records before `resume_offset` were written and
//! acked before the commit, so they are computed again but not re-sent.

use std::fmt;

/// The prefix of the offset metadata written by this version.
const TAG: &str = "watchload-pipeline/1";

/// Restart point of one input partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// First offset to read on restart: the oldest record open state needs,
    /// or the next offset when no state is open.
    pub offset: i64,
    /// Stream time of the partition just before `offset` (`None` when no
    /// valid record came before it).
    pub stream_time: Option<i64>,
    /// First offset whose outputs were not written yet. Records from
    /// `offset` up to here are replayed without re-sending their outputs.
    pub resume_offset: i64,
    /// Whether every open session was flushed (emitted) at `resume_offset`,
    /// so the replay must count them as emitted too.
    pub flushed: bool,
}

/// Offset metadata that is not a checkpoint of this pipeline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("offset metadata {metadata:?} is not a {TAG} checkpoint: {problem}")]
pub struct BadCheckpoint {
    /// The metadata as read.
    pub metadata: String,
    /// What was wrong.
    pub problem: &'static str,
}

impl Checkpoint {
    /// The checkpoint of a partition read from the start: nothing to replay.
    pub fn fresh(offset: i64) -> Self {
        Checkpoint {
            offset,
            stream_time: None,
            resume_offset: offset,
            flushed: false,
        }
    }

    /// Encodes the replay data as offset commit metadata, e.g.
    /// `watchload-pipeline/1 st=1700000000000 resume=1042 flushed=0`.
    pub fn metadata(&self) -> String {
        self.to_string()
    }

    /// Decodes offset commit metadata written by [`Checkpoint::metadata`];
    /// `offset` is the committed offset it came with.
    ///
    /// # Errors
    ///
    /// [`BadCheckpoint`] when the metadata is not a checkpoint.
    pub fn from_metadata(offset: i64, metadata: &str) -> Result<Self, BadCheckpoint> {
        let bad = |problem| BadCheckpoint {
            metadata: metadata.to_string(),
            problem,
        };
        let mut parts = metadata.split_whitespace();
        if parts.next() != Some(TAG) {
            return Err(bad("wrong tag"));
        }
        let mut checkpoint = Checkpoint::fresh(offset);
        for part in parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| bad("expected key=value"))?;
            match key {
                "st" if value == "-" => checkpoint.stream_time = None,
                "st" => checkpoint.stream_time = Some(value.parse().map_err(|_| bad("bad st"))?),
                "resume" => {
                    checkpoint.resume_offset = value.parse().map_err(|_| bad("bad resume"))?
                }
                "flushed" => checkpoint.flushed = value == "1",
                _ => return Err(bad("unknown key")),
            }
        }
        if checkpoint.resume_offset < offset {
            return Err(bad("resume before offset"));
        }
        Ok(checkpoint)
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(TAG)?;
        match self.stream_time {
            Some(st) => write!(f, " st={st}")?,
            None => f.write_str(" st=-")?,
        }
        write!(
            f,
            " resume={} flushed={}",
            self.resume_offset,
            u8::from(self.flushed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips() {
        let checkpoint = Checkpoint {
            offset: 10,
            stream_time: Some(1_700_000_000_000),
            resume_offset: 42,
            flushed: true,
        };
        let text = checkpoint.metadata();
        assert_eq!(Checkpoint::from_metadata(10, &text), Ok(checkpoint));
        let fresh = Checkpoint::fresh(7);
        assert_eq!(Checkpoint::from_metadata(7, &fresh.metadata()), Ok(fresh));
    }

    #[test]
    fn foreign_metadata_is_rejected() {
        assert!(Checkpoint::from_metadata(0, "").is_err());
        assert!(Checkpoint::from_metadata(0, "other/1 st=1").is_err());
        assert!(Checkpoint::from_metadata(5, "watchload-pipeline/1 resume=4").is_err());
    }
}
