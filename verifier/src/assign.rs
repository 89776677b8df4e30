//! Maximum-weight assignment between the truth sessions and output sessions
//! of one overlap cluster.
//!
//! Small clusters (the normal case: one truth, one output) use the Hungarian
//! method, which is optimal. Clusters above [`HUNGARIAN_MAX_CELLS`] cells
//! (a pathological output spanning hundreds of truth sessions) fall back to
//! greedy assignment by weight, which is not always optimal but is
//! deterministic and cannot run away in time.

/// Clusters with more truth x output cells than this are assigned greedily.
pub const HUNGARIAN_MAX_CELLS: usize = 40_000;

/// Assigns rows to columns maximizing the total weight of assigned cells.
///
/// `weight(r, c)` is `None` where row `r` and column `c` may not be paired
/// (no overlap). Returns, for each row, its column if any.
pub fn assign(
    rows: usize,
    cols: usize,
    weight: impl Fn(usize, usize) -> Option<i64>,
) -> Vec<Option<usize>> {
    if rows == 0 || cols == 0 {
        return vec![None; rows];
    }
    if rows * cols > HUNGARIAN_MAX_CELLS {
        return greedy(rows, cols, weight);
    }
    let n = rows.max(cols);
    let cost = |r: usize, c: usize| -> i64 {
        if r < rows && c < cols {
            weight(r, c).map_or(0, |w| -w)
        } else {
            0
        }
    };
    let by_row = hungarian(n, cost);
    (0..rows)
        .map(|r| {
            let c = by_row[r];
            (c < cols && weight(r, c).is_some()).then_some(c)
        })
        .collect()
}

/// Minimum-cost perfect assignment on an `n` x `n` matrix (shortest
/// augmenting paths with potentials, O(n^3)). Returns the column of each row.
fn hungarian(n: usize, cost: impl Fn(usize, usize) -> i64) -> Vec<usize> {
    const INF: i64 = i64::MAX / 4;
    // 1-based arrays; column 0 is the virtual start of each augmentation.
    let mut u = vec![0i64; n + 1];
    let mut v = vec![0i64; n + 1];
    let mut row_of = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    for row in 1..=n {
        row_of[0] = row;
        let mut col0 = 0;
        let mut min_to = vec![INF; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[col0] = true;
            let r0 = row_of[col0];
            let mut delta = INF;
            let mut col1 = 0;
            for col in 1..=n {
                if used[col] {
                    continue;
                }
                let reduced = cost(r0 - 1, col - 1) - u[r0] - v[col];
                if reduced < min_to[col] {
                    min_to[col] = reduced;
                    way[col] = col0;
                }
                if min_to[col] < delta {
                    delta = min_to[col];
                    col1 = col;
                }
            }
            for col in 0..=n {
                if used[col] {
                    u[row_of[col]] += delta;
                    v[col] -= delta;
                } else {
                    min_to[col] -= delta;
                }
            }
            col0 = col1;
            if row_of[col0] == 0 {
                break;
            }
        }
        while col0 != 0 {
            let prev = way[col0];
            row_of[col0] = row_of[prev];
            col0 = prev;
        }
    }
    let mut col_of_row = vec![0usize; n];
    for col in 1..=n {
        if row_of[col] > 0 {
            col_of_row[row_of[col] - 1] = col - 1;
        }
    }
    col_of_row
}

fn greedy(
    rows: usize,
    cols: usize,
    weight: impl Fn(usize, usize) -> Option<i64>,
) -> Vec<Option<usize>> {
    let mut cells: Vec<(i64, usize, usize)> = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            if let Some(w) = weight(r, c) {
                cells.push((w, r, c));
            }
        }
    }
    // Heaviest first; ties by position so the result is deterministic.
    cells.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut by_row = vec![None; rows];
    let mut col_taken = vec![false; cols];
    for (_, r, c) in cells {
        if by_row[r].is_none() && !col_taken[c] {
            by_row[r] = Some(c);
            col_taken[c] = true;
        }
    }
    by_row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(w: &[Vec<Option<i64>>], a: &[Option<usize>]) -> i64 {
        a.iter()
            .enumerate()
            .filter_map(|(r, c)| c.and_then(|c| w[r][c]))
            .sum()
    }

    #[test]
    fn beats_first_fit() {
        // Row 0 first-fit would take column 0 and leave row 1 with nothing.
        let w = vec![vec![Some(5), Some(4)], vec![Some(6), None]];
        let a = assign(2, 2, |r, c| w[r][c]);
        assert_eq!(a, vec![Some(1), Some(0)]);
        assert_eq!(total(&w, &a), 10);
    }

    #[test]
    fn rectangular_and_missing_edges() {
        let w = [vec![None, None, Some(3)], vec![Some(1), Some(2), None]];
        let a = assign(2, 3, |r, c| w[r][c]);
        assert_eq!(a, vec![Some(2), Some(1)]);
        let none = assign(2, 1, |_, _| None);
        assert_eq!(none, vec![None, None]);
    }

    #[test]
    fn matches_brute_force_on_small_matrices() {
        // Invariant: the Hungarian total equals the best total over all
        // permutations for every 3x3 matrix drawn from a fixed sequence.
        let mut x: u64 = 7;
        for _ in 0..300 {
            let mut w = vec![vec![None; 3]; 3];
            for row in w.iter_mut() {
                for cell in row.iter_mut() {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let v = (x >> 33) % 10;
                    *cell = (v > 2).then_some(v as i64);
                }
            }
            let a = assign(3, 3, |r, c| w[r][c]);
            let perms = [
                [0, 1, 2],
                [0, 2, 1],
                [1, 0, 2],
                [1, 2, 0],
                [2, 0, 1],
                [2, 1, 0],
            ];
            let best = perms
                .iter()
                .map(|p| (0..3).filter_map(|r| w[r][p[r]]).sum::<i64>())
                .max()
                .unwrap();
            assert_eq!(total(&w, &a), best, "{w:?}");
        }
    }
}
