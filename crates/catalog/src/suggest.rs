//! "Did you mean …" for unknown language and compiler names.

/// Edit distance with adjacent transpositions (optimal string alignment), on chars.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    // Three rows: two back (for transpositions), previous and current.
    let mut prev2 = vec![0usize; m + 1];
    let mut prev: Vec<usize> = (0..=m).collect();
    let mut cur = vec![0usize; m + 1];
    for i in 1..=n {
        cur[0] = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[m]
}

/// Up to `limit` candidates close to `query` (case-insensitive), best first: those within
/// a small edit distance, and those that start with the query (`gcc` → `gcc-12.2.0`).
pub fn close_matches<'a, I>(query: &str, candidates: I, limit: usize) -> Vec<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return Vec::new();
    }
    let allowed = (q.chars().count() / 3).clamp(1, 3);
    let mut scored: Vec<(usize, usize, String)> = Vec::new();
    for cand in candidates {
        let c = cand.to_lowercase();
        let d = distance(&q, &c);
        let score = if d <= allowed {
            Some((0, d))
        } else if c.starts_with(&q) || c.split(['-', ' ']).any(|part| part == q) {
            Some((1, c.len() - q.len().min(c.len())))
        } else {
            None
        };
        if let Some((group, d)) = score {
            scored.push((group, d, cand.to_string()));
        }
    }
    scored.sort();
    scored.dedup_by(|a, b| a.2.eq_ignore_ascii_case(&b.2));
    scored.into_iter().take(limit).map(|(_, _, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(
            distance("pyhton", "python"),
            1,
            "a transposition counts once"
        );
        assert_eq!(distance("rust", "rust"), 0);
    }

    #[test]
    fn suggestions_are_close_or_prefixed() {
        let names = [
            "python",
            "perl",
            "php",
            "gcc-12.2.0",
            "gcc-11.3.0",
            "clang-16.0.6",
        ];
        assert_eq!(close_matches("pyhton", names, 5), vec!["python"]);
        assert_eq!(
            close_matches("gcc", names, 5),
            vec!["gcc-11.3.0", "gcc-12.2.0"]
        );
        assert_eq!(
            close_matches("gcc-12.2.1", names, 5),
            vec!["gcc-12.2.0", "gcc-11.3.0"]
        );
        assert!(close_matches("cobol", names, 5).is_empty());
        assert!(close_matches("", names, 5).is_empty());
    }
}
