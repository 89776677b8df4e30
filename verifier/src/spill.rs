//! Spilling records into per-user hash buckets on disk, so that memory is
//! bounded by one bucket (a slice of the users), not by the input size.
//!
//! Phase one reads truth and output once, routes every record by a hash of
//! its `user_id` into one of N bucket files in a temporary directory, and
//! keeps each bucket in input order. Records are in the compact format of
//! [`crate::compact`]. Phase two loads one bucket at a time;
//! every user's truth and output sessions are in the same bucket.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Errors of the spill directory.
#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    /// Creating, writing or reading a bucket file failed.
    #[error("spill file {path}")]
    Io {
        /// The bucket file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A record could not be encoded (a bug, not bad input).
    #[error("spill record cannot be encoded: {0}")]
    Encode(String),
    /// A bucket record is not in the spill format (a bug, not bad input).
    #[error("spill file {path} record {line}: corrupt record")]
    Corrupt {
        /// The bucket file.
        path: PathBuf,
        /// 1-based record number (0: not known).
        line: u64,
    },
}

/// The bucket of `user_id` among `buckets` (FNV-1a, stable across runs).
pub fn bucket_of(user_id: &str, buckets: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in user_id.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % buckets as u64) as usize
}

/// A temporary directory of bucket files, removed on drop.
#[derive(Debug)]
pub struct Spill {
    dir: tempfile::TempDir,
    buckets: usize,
}

impl Spill {
    /// Creates the directory under `parent` (the system temp dir if `None`).
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn new(buckets: usize, parent: Option<&Path>) -> Result<Spill, SpillError> {
        let base = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let dir = tempfile::Builder::new()
            .prefix("watchload-verify-")
            .tempdir_in(&base)
            .map_err(|source| SpillError::Io { path: base, source })?;
        Ok(Spill {
            dir,
            buckets: buckets.max(1),
        })
    }

    /// Number of buckets.
    pub fn buckets(&self) -> usize {
        self.buckets
    }

    /// Path of bucket `index` of the file family `family`.
    pub fn path(&self, family: &str, index: usize) -> PathBuf {
        self.dir.path().join(format!("{family}-{index:04}.spill"))
    }

    /// Opens one writer per bucket for `family`.
    ///
    /// # Errors
    /// When a bucket file cannot be created.
    pub fn writers(&self, family: &str) -> Result<BucketWriters, SpillError> {
        let mut files = Vec::with_capacity(self.buckets);
        let mut paths = Vec::with_capacity(self.buckets);
        for i in 0..self.buckets {
            let path = self.path(family, i);
            let file = File::create(&path).map_err(|source| SpillError::Io {
                path: path.clone(),
                source,
            })?;
            files.push(BufWriter::with_capacity(64 * 1024, file));
            paths.push(path);
        }
        Ok(BucketWriters { files, paths })
    }
}

/// Buffered writers of one family of bucket files.
#[derive(Debug)]
pub struct BucketWriters {
    files: Vec<BufWriter<File>>,
    paths: Vec<PathBuf>,
}

impl BucketWriters {
    /// Appends `record` (self-delimiting, no separator) to the bucket of
    /// `user_id`.
    ///
    /// # Errors
    /// When the write fails.
    pub fn write_record(&mut self, user_id: &str, record: &[u8]) -> Result<(), SpillError> {
        let i = bucket_of(user_id, self.files.len());
        self.files[i]
            .write_all(record)
            .map_err(|source| SpillError::Io {
                path: self.paths[i].clone(),
                source,
            })
    }

    /// Flushes and closes every bucket.
    ///
    /// # Errors
    /// When a flush fails.
    pub fn finish(self) -> Result<(), SpillError> {
        for (mut file, path) in self.files.into_iter().zip(self.paths) {
            file.flush()
                .map_err(|source| SpillError::Io { path, source })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_spread() {
        assert_eq!(bucket_of("u1", 16), bucket_of("u1", 16));
        let mut seen = [0u32; 8];
        for i in 0..8000 {
            seen[bucket_of(&format!("u{i}"), 8)] += 1;
        }
        assert!(seen.iter().all(|n| (800..1200).contains(n)), "{seen:?}");
    }
}
