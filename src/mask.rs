//! Secret redaction of every line the runner prints: the task's output, the
//! runner's own logs, error messages and the termination message.
//!
//! Airflow's rules (secrets_masker.py): the replacement is `***`; values shorter
//! than `min_length_masked_secret` (5) and the literal `airflow` are left alone.
//! A multi-line secret (a private key) is also masked line by line, since output
//! is forwarded a line at a time.

use std::borrow::Cow;
use std::sync::{Arc, PoisonError, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};

const MIN_LENGTH: usize = 5;
const REPLACEMENT: &str = "***";

#[derive(Debug, Default)]
pub(crate) struct Masker {
    matcher: Option<AhoCorasick>,
    /// The longest pattern, in bytes.
    longest: usize,
    /// The secrets it was built from, so that [`Masker::with`] can add more.
    secrets: Vec<String>,
}

impl Masker {
    /// A masker of `secrets` (and their forms). Err when the matcher cannot
    /// be built: the run must then stop rather than print secrets in clear.
    pub(crate) fn new<I, S>(secrets: I) -> Result<Masker, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let secrets: Vec<String> = secrets.into_iter().map(|s| s.as_ref().to_owned()).collect();
        let mut patterns: Vec<String> = Vec::new();
        for secret in &secrets {
            let secret = secret.as_str();
            let mut add = |s: &str| {
                if s.chars().count() >= MIN_LENGTH
                    && s != "airflow"
                    && !patterns.iter().any(|p| p == s)
                {
                    patterns.push(s.to_string());
                }
            };
            add(secret);
            if secret.contains('\n') {
                secret.lines().map(str::trim).for_each(&mut add);
            }
            // The forms a secret takes on its way to a log line: escaped in
            // JSON (JSON logs, `render`, SQL parameter logs), whitespace folded
            // (one-line error summaries), upper-cased (env var names in hints).
            if let Ok(json) = serde_json::to_string(secret) {
                add(&json[1..json.len() - 1]);
            }
            add(&secret.split_whitespace().collect::<Vec<_>>().join(" "));
            add(&secret.to_uppercase());
            // What Python's standard library makes of it in one call, as a task
            // may print: urllib's quote / quote_plus (either hex case),
            // json.dumps with ensure_ascii, and repr.
            for f in python_forms(secret) {
                add(&f);
            }
        }
        if patterns.is_empty() {
            return Ok(Masker {
                secrets,
                ..Masker::default()
            });
        }
        let longest = patterns.iter().map(String::len).max().unwrap_or(0);
        // Longest first, so `p@ss word` wins over its prefix `p@ss`.
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .map_err(|e| {
                format!(
                    "cannot build the secret masker for {} patterns: {e}",
                    patterns.len()
                )
            })?;
        Ok(Masker {
            matcher: Some(matcher),
            longest,
            secrets,
        })
    }

    /// This masker's secrets and `more`.
    pub(crate) fn with<I, S>(&self, more: I) -> Result<Masker, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let more: Vec<String> = more.into_iter().map(|s| s.as_ref().to_owned()).collect();
        Masker::new(self.secrets.iter().chain(&more))
    }

    /// The longest form of a secret, in bytes: a text cut into pieces keeps
    /// this much after each cut, so the cut can be placed outside every secret.
    pub(crate) fn longest(&self) -> usize {
        self.longest
    }

    /// A cut point at or before `at` (a char boundary of `bytes`) that splits
    /// no secret: the start of a secret that straddles `at`, repeated until
    /// none does. Masking the two sides separately then hides what masking
    /// the whole would. `bytes` should extend [`Masker::longest`] past `at`,
    /// so every secret around `at` is seen whole.
    pub(crate) fn safe_cut(&self, bytes: &[u8], at: usize) -> usize {
        let Some(m) = &self.matcher else {
            return at;
        };
        let mut cut = at.min(bytes.len());
        loop {
            let from = cut.saturating_sub(self.longest);
            let to = cut.saturating_add(self.longest).min(bytes.len());
            let straddling = m
                .find_iter(&bytes[from..to])
                .map(|f| (from + f.start(), from + f.end()))
                .find(|&(start, end)| start < cut && end > cut);
            match straddling {
                Some((start, _)) => cut = start,
                None => return cut,
            }
        }
    }

    pub(crate) fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.matcher {
            Some(m) if m.is_match(text) => {
                Cow::Owned(m.replace_all(text, &vec![REPLACEMENT; m.patterns_len()]))
            }
            _ => Cow::Borrowed(text),
        }
    }
}

/// `urllib.parse.quote(s)`, `quote(s, safe='')`, `quote_plus(s)` (upper- and
/// lower-case hex), `json.dumps(s)` (ensure_ascii) and `repr(s)`, each without
/// the quotes JSON and repr add.
fn python_forms(secret: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (plus, safe) in [(false, "/"), (false, ""), (true, "")] {
        for lower in [false, true] {
            out.push(percent(secret, plus, safe.as_bytes(), lower));
        }
    }
    let inner = |quoted: String| quoted[1..quoted.len() - 1].to_string();
    out.push(inner(crate::py::json::dumps(&serde_json::Value::String(
        secret.to_owned(),
    ))));
    out.push(inner(crate::py::text::repr(secret)));
    out
}

fn percent(s: &str, plus: bool, safe: &[u8], lower: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        match b {
            b' ' if plus => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || safe.contains(&b) => {
                out.push(b as char);
            }
            b if lower => out.push_str(&format!("%{b:02x}")),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

static GLOBAL: RwLock<Option<Arc<Masker>>> = RwLock::new(None);

/// Installs the masker every printer uses from now on.
pub(crate) fn install(masker: Masker) {
    // A printer that panicked while holding the lock leaves the slot as it
    // was: take it over rather than run unmasked (the masker fails closed).
    let mut slot = GLOBAL.write().unwrap_or_else(PoisonError::into_inner);
    *slot = Some(Arc::new(masker));
}

/// Adds `secrets` to the installed masker: every printer masks them too
/// from now on. Err when the matcher cannot be built (the run must stop).
pub(crate) fn add_secrets(secrets: &[String]) -> Result<(), String> {
    if secrets.is_empty() {
        return Ok(());
    }
    install(current().with(secrets)?);
    Ok(())
}

/// The installed masker (an empty one before `install`, when no secret is
/// known yet).
pub(crate) fn current() -> Arc<Masker> {
    GLOBAL
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .unwrap_or_default()
}

/// Masks `text` with the installed masker.
pub(crate) fn redact(text: &str) -> String {
    current().mask(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_all_occurrences_longest_first() {
        let m = Masker::new(["s3cr3t", "s3cr3t-long", "abc", "airflow"]).unwrap();
        assert_eq!(
            m.mask("a s3cr3t-long b s3cr3t c abc airflow"),
            "a *** b *** c abc airflow"
        );
    }

    #[test]
    fn multi_line_secrets_mask_per_line() {
        let m = Masker::new(["-----BEGIN KEY-----\nAAAAbbbbCCCC\n-----END KEY-----"]).unwrap();
        assert_eq!(m.mask("key line: AAAAbbbbCCCC"), "key line: ***");
    }

    #[test]
    fn escaped_folded_and_upper_cased_forms_are_masked() {
        let m = Masker::new(["ab\"cd\\ef99", "open  sesame99", "tr-pg-secret"]).unwrap();
        assert_eq!(m.mask(r#"{"k":"ab\"cd\\ef99"}"#), r#"{"k":"***"}"#);
        assert_eq!(
            m.mask("login failed with open sesame99"),
            "login failed with ***"
        );
        assert_eq!(
            m.mask("set AIRFLOW_VAR_TR-PG-SECRET"),
            "set AIRFLOW_VAR_***"
        );
    }

    #[test]
    fn a_cut_never_splits_a_secret() {
        let m = Masker::new(["hunter-two-22", "zz-other-zz"]).unwrap();
        let text = b"aaa hunter-two-22 bbb zz-other-zz";
        // Inside the first secret: moved to its start.
        assert_eq!(m.safe_cut(text, 8), 4);
        // Between secrets, and at a secret's start: unchanged.
        assert_eq!(m.safe_cut(text, 18), 18);
        assert_eq!(m.safe_cut(text, 4), 4);
        assert_eq!(m.safe_cut(text, 30), 22);
        assert_eq!(Masker::default().safe_cut(text, 8), 8);
        assert_eq!(m.longest(), 13);
    }

    #[test]
    fn added_secrets_join_the_ones_it_had() {
        let m = Masker::new(["first-secret"]).unwrap();
        let m = m.with(["second-secret", "abc"]).unwrap();
        assert_eq!(m.mask("first-secret second-secret abc"), "*** *** abc");
        // JSON-escaped forms of the added ones too, as for the first.
        let m = Masker::default().with(["quo\"ted-1"]).unwrap();
        assert_eq!(m.mask(r#"{"v":"quo\"ted-1"}"#), r#"{"v":"***"}"#);
    }

    #[test]
    fn empty_masker_borrows() {
        assert!(matches!(
            Masker::new(Vec::<String>::new()).unwrap().mask("x"),
            Cow::Borrowed(_)
        ));
    }
}
