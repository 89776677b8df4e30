//! The catalogue: movies and series with Zipf popularity. Title lengths and
//! episode counts are a pure function of the title's rank, so every user and
//! every shard sees the same catalogue.

use crate::record::push_number;
use crate::rng::{mix, Rng};
use rand_distr::{Distribution, Zipf};

/// One title a user can play: a movie, or one episode of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Title {
    /// Popularity rank, 1 = most popular; 0 is the premiere.
    pub rank: u32,
    /// Episode number for series (from 1), 0 for movies.
    pub episode: u16,
}

impl Title {
    /// The premiere title of `shape = "premiere"` scenarios.
    pub const PREMIERE: Title = Title {
        rank: 0,
        episode: 0,
    };

    /// Every third rank is a movie, the rest are series.
    pub fn is_series(self) -> bool {
        self.rank != 0 && self.rank % 3 != 0
    }

    /// Number of episodes of the series (0 for movies).
    pub fn episodes(self) -> u16 {
        if self.is_series() {
            6 + (mix(u64::from(self.rank)) >> 8) as u16 % 10
        } else {
            0
        }
    }

    /// Length of the title in milliseconds.
    pub fn length_ms(self) -> i64 {
        let h = mix(u64::from(self.rank));
        let minutes = if self.rank == 0 {
            125
        } else if self.is_series() {
            22 + (h % 38) as i64
        } else {
            80 + (h % 60) as i64
        };
        minutes * 60_000
    }

    /// The next episode of a series, if there is one.
    pub fn next_episode(self) -> Option<Title> {
        (self.is_series() && self.episode < self.episodes()).then_some(Title {
            rank: self.rank,
            episode: self.episode + 1,
        })
    }

    /// Writes the `content_id`: `m00042` for a movie, `s00043e02` for an
    /// episode.
    pub fn write_content_id(self, out: &mut String) {
        if self.is_series() {
            out.push('s');
            push_number(out, u64::from(self.rank), 5);
            out.push('e');
            push_number(out, u64::from(self.episode), 2);
        } else {
            out.push('m');
            push_number(out, u64::from(self.rank), 5);
        }
    }
}

/// Title popularity.
#[derive(Debug, Clone)]
pub struct Catalog {
    zipf: Zipf<f64>,
}

impl Catalog {
    /// A catalogue of `titles` titles with Zipf exponent `exponent`.
    pub fn new(titles: u32, exponent: f64) -> Self {
        let zipf = Zipf::new(f64::from(titles.max(1)), exponent.max(1e-6))
            .expect("checked: titles >= 1 and exponent > 0");
        Catalog { zipf }
    }

    /// Picks a title by popularity; series start at a random episode, or at
    /// episode 1 for `from_start`.
    pub fn pick(&self, rng: &mut Rng, from_start: bool) -> Title {
        use rand::Rng as _;
        let rank = self.zipf.sample(rng) as u32;
        let mut title = Title { rank, episode: 0 };
        if title.is_series() {
            title.episode = if from_start {
                1
            } else {
                rng.random_range(1..=title.episodes())
            };
        }
        title
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ids_and_episodes() {
        let mut s = String::new();
        Title {
            rank: 3,
            episode: 0,
        }
        .write_content_id(&mut s);
        assert_eq!(s, "m00003");
        s.clear();
        let ep = Title {
            rank: 4,
            episode: 2,
        };
        ep.write_content_id(&mut s);
        assert_eq!(s, "s00004e02");
        assert_eq!(ep.next_episode().unwrap().episode, 3);
        let last = Title {
            rank: 4,
            episode: ep.episodes(),
        };
        assert_eq!(last.next_episode(), None);
        assert!(Title::PREMIERE.length_ms() > 60 * 60_000);
    }
}
