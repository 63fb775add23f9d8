//! Drain log clustering (He et al., 2017), written from the paper for lokid: lines are
//! split into tokens, routed by token count and their first tokens through a fixed-depth
//! tree to a few candidate clusters, and joined to the most similar one (or start a new
//! one); tokens that differ within a cluster become the `<_>` placeholder.

use std::collections::HashMap;

/// The placeholder Loki's patterns use.
pub const WILDCARD: &str = "<_>";

/// Tuning: tree depth (prefix tokens used for routing), similarity to join a cluster,
/// children per tree node before routing falls back to the wildcard child.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub depth: usize,
    pub similarity: f64,
    pub max_children: usize,
    pub max_clusters: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config { depth: 4, similarity: 0.3, max_children: 100, max_clusters: 300 }
    }
}

/// A cluster: its template tokens and the ids of the lines it holds (by caller index).
#[derive(Debug, Clone)]
pub struct Cluster {
    pub tokens: Vec<String>,
    /// Whether a space followed token i in the cluster's first line (else a comma did).
    pub spaced: Vec<bool>,
    pub members: Vec<usize>,
}

impl Cluster {
    /// The template as text, runs of placeholders collapsed to one.
    pub fn pattern(&self) -> String {
        let mut out = String::new();
        let mut last_wild = false;
        for (i, t) in self.tokens.iter().enumerate() {
            let wild = t == WILDCARD;
            if !(wild && last_wild) {
                if i > 0 && self.spaced[i - 1] && !out.ends_with(' ') {
                    out.push(' ');
                }
                out.push_str(t);
            }
            last_wild = wild;
        }
        out
    }
}

/// Splits a line at whitespace and after commas (JSON and CSV-like lines get one token per
/// member); the flag says whether whitespace followed the token.
pub fn tokenize(line: &str) -> (Vec<&str>, Vec<bool>) {
    let (mut toks, mut spaced) = (Vec::new(), Vec::new());
    for word in line.split_whitespace() {
        let mut rest = word;
        while let Some(i) = rest.find(',') {
            if i + 1 == rest.len() {
                break;
            }
            toks.push(&rest[..=i]);
            spaced.push(false);
            rest = &rest[i + 1..];
        }
        toks.push(rest);
        spaced.push(true);
    }
    (toks, spaced)
}

#[derive(Default)]
struct Node {
    children: HashMap<String, Node>,
    clusters: Vec<usize>,
}

/// The Drain state: the routing tree and the clusters.
pub struct Drain {
    cfg: Config,
    root: HashMap<usize, Node>,
    pub clusters: Vec<Cluster>,
}

fn has_digit(t: &str) -> bool {
    t.bytes().any(|b| b.is_ascii_digit())
}

impl Drain {
    pub fn new(cfg: Config) -> Drain {
        Drain { cfg, root: HashMap::new(), clusters: Vec::new() }
    }

    /// Adds line `id`; returns its cluster's index, or None when the cluster limit is hit.
    pub fn add(&mut self, id: usize, line: &str) -> Option<usize> {
        let (tokens, spaced) = tokenize(line);
        if tokens.is_empty() {
            return None;
        }
        let prefix = self.cfg.depth.saturating_sub(2).min(tokens.len());
        let max_children = self.cfg.max_children;
        let mut node = self.root.entry(tokens.len()).or_default();
        for t in &tokens[..prefix] {
            // Tokens with digits are likely variables: they route through the wildcard.
            let key = if has_digit(t) { WILDCARD } else { t };
            let key =
                if node.children.contains_key(key) || node.children.len() < max_children { key } else { WILDCARD };
            node = node.children.entry(key.to_string()).or_default();
        }
        // The most similar cluster of the leaf (ties: more exact tokens).
        let mut best: Option<(usize, f64, usize)> = None;
        for &c in &node.clusters {
            let tpl = &self.clusters[c].tokens;
            let (mut same, mut wild) = (0, 0);
            for (a, b) in tpl.iter().zip(&tokens) {
                if a == WILDCARD {
                    wild += 1;
                } else if a == b {
                    same += 1;
                }
            }
            let sim = same as f64 / tokens.len() as f64;
            if best.is_none_or(|(_, s, w)| sim > s || (sim == s && wild < w)) {
                best = Some((c, sim, wild));
            }
        }
        match best {
            Some((c, sim, _)) if sim >= self.cfg.similarity => {
                let cl = &mut self.clusters[c];
                for (a, b) in cl.tokens.iter_mut().zip(&tokens) {
                    if a != b && a != WILDCARD {
                        *a = WILDCARD.to_string();
                    }
                }
                cl.members.push(id);
                Some(c)
            }
            _ => {
                if self.clusters.len() >= self.cfg.max_clusters {
                    return None;
                }
                let c = self.clusters.len();
                self.clusters.push(Cluster {
                    tokens: tokens.iter().map(|t| t.to_string()).collect(),
                    spaced,
                    members: vec![id],
                });
                node.clusters.push(c);
                Some(c)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_lines_share_a_template_with_placeholders() {
        let mut d = Drain::new(Config::default());
        let lines = [
            "request GET /api/seats/42 finished status 200",
            "request GET /api/seats/7 finished status 404",
            "user 17 logged in from 10.0.0.1",
            "user 23 logged in from 10.0.0.9",
            "request GET /api/tickets finished status 200",
        ];
        for (i, l) in lines.iter().enumerate() {
            d.add(i, l);
        }
        let pats: Vec<String> = d.clusters.iter().map(Cluster::pattern).collect();
        assert_eq!(pats, vec!["request GET <_> finished status <_>", "user <_> logged in from <_>"]);
        assert_eq!(d.clusters[0].members, vec![0, 1, 4]);
    }

    #[test]
    fn dissimilar_lines_make_new_clusters() {
        let mut d = Drain::new(Config::default());
        d.add(0, "connection reset by peer");
        d.add(1, "disk quota exceeded now");
        assert_eq!(d.clusters.len(), 2);
        assert_eq!(d.clusters[1].pattern(), "disk quota exceeded now");
        let (t, sp) = tokenize(r#"{"a":1,"b":2} x,"#);
        assert_eq!((t, sp), (vec![r#"{"a":1,"#, r#""b":2}"#, "x,"], vec![false, true, true]));
    }
}
