//! The accounts file (TOML): which devices the centre serves, their keys and social-alarm data.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use vagt_dc09::{AccountKey, Frame, Key};

/// One `[[accounts]]` entry as written. Serialized (for the journal's record of the accounts in
/// force) without its key: keys stay in the accounts file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    /// The account as the device sends it (`#acct`), hex digits.
    pub account: String,
    /// Only frames with this `L` value match (any line if absent).
    pub line: Option<String>,
    /// Only frames with this `R` value match (any receiver if absent).
    pub receiver: Option<String>,
    /// AES key (`hex:…`, `text:…`, or bare; see README). With a key, clear text is refused.
    #[serde(default, skip_serializing)]
    pub key: Option<String>,
    /// Per-account timestamp window: seconds old.
    pub window_max_age_secs: Option<u32>,
    /// Per-account timestamp window: seconds ahead.
    pub window_max_ahead_secs: Option<u32>,
    /// Pseudonymous citizen reference (never a CPR number).
    pub citizen: Option<String>,
    /// `nodkald`, `sygeplejekald`, `intrusion`, `fire` or `other`.
    #[serde(default)]
    pub call_type: CallType,
    /// Home-care provider (for *nødkald*).
    pub provider: Option<String>,
    /// Home-nurse district (for *sygeplejekald*).
    pub district: Option<String>,
    /// Municipality (for reports).
    pub municipality: Option<String>,
    /// The device must be heard at least this often (seconds).
    pub supervision_interval_secs: Option<u64>,
    /// Electronic door-lock id.
    pub door_lock: Option<String>,
    /// The next responder team, when the first does not accept a forwarded alarm in time.
    pub backup_team: Option<String>,
    /// Priority (1 = life safety … 5) by event code, overriding the code table.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub priorities: HashMap<String, u8>,
}

/// What kind of service an account is.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CallType {
    /// Personal emergency pendant: forwarded to the citizen's home-care provider.
    Nodkald,
    /// Nurse call: forwarded to the home-nurse district.
    Sygeplejekald,
    /// Intrusion panel.
    Intrusion,
    /// Fire panel.
    Fire,
    /// Anything else.
    #[default]
    Other,
}

impl AccountEntry {
    /// The names of the fields that differ from `old` (`key` when the key changed — never the
    /// key itself), for the audit trail.
    pub fn changed_fields(&self, old: &Self) -> Vec<&'static str> {
        let pairs: [(&'static str, bool); 13] = [
            ("key", self.key != old.key),
            (
                "window_max_age_secs",
                self.window_max_age_secs != old.window_max_age_secs,
            ),
            (
                "window_max_ahead_secs",
                self.window_max_ahead_secs != old.window_max_ahead_secs,
            ),
            ("citizen", self.citizen != old.citizen),
            ("call_type", self.call_type != old.call_type),
            ("provider", self.provider != old.provider),
            ("district", self.district != old.district),
            ("municipality", self.municipality != old.municipality),
            (
                "supervision_interval_secs",
                self.supervision_interval_secs != old.supervision_interval_secs,
            ),
            ("door_lock", self.door_lock != old.door_lock),
            ("backup_team", self.backup_team != old.backup_team),
            ("priorities", self.priorities != old.priorities),
            (
                "line/receiver",
                self.line != old.line || self.receiver != old.receiver,
            ),
        ];
        pairs
            .into_iter()
            .filter(|(_, d)| *d)
            .map(|(n, _)| n)
            .collect()
    }
}

impl CallType {
    /// The name as the accounts file writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nodkald => "nodkald",
            Self::Sygeplejekald => "sygeplejekald",
            Self::Intrusion => "intrusion",
            Self::Fire => "fire",
            Self::Other => "other",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    accounts: Vec<AccountEntry>,
}

/// A TOML error as "line N: what", with anything quoted in it left out (the file's text is
/// never repeated: an accounts file holds keys, a users file password hashes).
pub fn described(e: &toml::de::Error, text: &str) -> String {
    let line = e
        .span()
        .and_then(|s| text.get(..s.start))
        .map(|before| before.matches('\n').count() + 1);
    let mut message = String::new();
    for (i, part) in e.message().split('"').enumerate() {
        message.push_str(if i % 2 == 1 { "\"…\"" } else { part });
    }
    let message = message.trim_end();
    match line {
        Some(n) => format!("line {n}: {message}"),
        None => message.to_owned(),
    }
}

/// A loaded account: the entry plus its parsed key.
#[derive(Clone, Debug)]
pub struct Account {
    /// As configured.
    pub entry: AccountEntry,
    /// The parsed key.
    pub key: Option<Key>,
}

/// All accounts, indexed by account number (upper case).
#[derive(Clone, Debug, Default)]
pub struct Accounts {
    by_account: HashMap<String, Vec<Account>>,
}

impl Accounts {
    /// Loads and validates an accounts file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading accounts file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("accounts file {}", path.display()))
    }

    /// Parses accounts TOML. A syntax error names its line, never the text there (it may be
    /// a key, and errors reach the logs).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let file: File = toml::from_str(text).map_err(|e| anyhow::anyhow!(described(&e, text)))?;
        Self::from_entries(file.accounts)
    }

    /// Accounts from entries, checked as the file's are.
    pub fn from_entries(entries: Vec<AccountEntry>) -> anyhow::Result<Self> {
        let mut by_account: HashMap<String, Vec<Account>> = HashMap::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let acct = &entry.account;
            if !(3..=16).contains(&acct.len()) || !acct.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("accounts[{i}].account {acct:?} must be 3-16 hex digits");
            }
            let key = match &entry.key {
                Some(k) => {
                    Some(Key::parse(k).with_context(|| format!("accounts[{i}] ({acct}).key"))?)
                }
                None => None,
            };
            if let Some((code, p)) = entry.priorities.iter().find(|(_, p)| !(1..=5).contains(*p)) {
                bail!("accounts[{i}] ({acct}).priorities.{code} = {p}: must be 1..=5");
            }
            let slot = by_account.entry(acct.to_ascii_uppercase()).or_default();
            if slot
                .iter()
                .any(|a| a.entry.line == entry.line && a.entry.receiver == entry.receiver)
            {
                bail!(
                    "accounts[{i}]: account {acct} with the same line and receiver is listed twice"
                );
            }
            slot.push(Account { entry, key });
        }
        Ok(Self { by_account })
    }

    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.by_account.values().map(Vec::len).sum()
    }

    /// Every entry.
    pub fn entries(&self) -> impl Iterator<Item = &AccountEntry> {
        self.by_account.values().flatten().map(|a| &a.entry)
    }

    /// The accounts file's text for these accounts (keys included), in a stable order; reading
    /// it back gives the same accounts. Written by the console's admin page.
    pub fn to_file(&self) -> anyhow::Result<String> {
        let mut list = Vec::new();
        for entry in self.sorted_entries() {
            let mut table = toml::Table::try_from(entry)?;
            if let Some(key) = &entry.key {
                table.insert("key".into(), toml::Value::String(key.clone()));
            }
            list.push(toml::Value::Table(table));
        }
        let mut file = toml::Table::new();
        file.insert("accounts".into(), toml::Value::Array(list));
        Ok(format!(
            "# Vagt accounts file, written by the console's admin page (fields: \
             config/accounts.example.toml).\n\n{}",
            toml::to_string(&file)?
        ))
    }

    /// These accounts with `entry` added, or replacing the one with its account, line and
    /// receiver (whose key it keeps unless `key` is given), checked as the file is.
    pub fn with_entry(&self, mut entry: AccountEntry, key: Option<String>) -> anyhow::Result<Self> {
        let same = |e: &AccountEntry| {
            e.account.eq_ignore_ascii_case(&entry.account)
                && e.line == entry.line
                && e.receiver == entry.receiver
        };
        let old_key = self.entries().find(|e| same(e)).and_then(|e| e.key.clone());
        entry.key = key.filter(|k| !k.is_empty()).or(old_key);
        let mut all: Vec<AccountEntry> = self.entries().filter(|e| !same(e)).cloned().collect();
        all.push(entry);
        Self::from_entries(all)
    }

    /// These accounts without the entry of `account`, `line` and `receiver` (`None` if there is
    /// none).
    pub fn without_entry(
        &self,
        account: &str,
        line: Option<&str>,
        receiver: Option<&str>,
    ) -> Option<Self> {
        let same = |e: &AccountEntry| {
            e.account.eq_ignore_ascii_case(account)
                && e.line.as_deref() == line
                && e.receiver.as_deref() == receiver
        };
        if !self.entries().any(same) {
            return None;
        }
        Self::from_entries(self.entries().filter(|e| !same(e)).cloned().collect()).ok()
    }

    /// Every entry in a stable order (account, line, receiver): the same accounts give the
    /// same journal record on every node.
    pub fn sorted_entries(&self) -> Vec<&AccountEntry> {
        let mut all: Vec<&AccountEntry> = self.entries().collect();
        all.sort_by(|a, b| {
            (&a.account, &a.line, &a.receiver).cmp(&(&b.account, &b.line, &b.receiver))
        });
        all
    }

    /// The (first) entry for an account number.
    pub fn entry(&self, account: &str) -> Option<&AccountEntry> {
        let entries = self.by_account.get(&account.to_ascii_uppercase())?;
        entries.first().map(|a| &a.entry)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_account.is_empty()
    }

    /// The account a frame belongs to: same account number, and line / receiver where the entry
    /// names them; the most specific entry wins.
    pub fn find(&self, frame: &Frame) -> Option<&Account> {
        let acct = frame.account()?;
        // Accounts are mostly digits: upper-case (allocate) only when needed.
        let acct: std::borrow::Cow<'_, str> = if acct.bytes().any(|b| b.is_ascii_lowercase()) {
            acct.to_ascii_uppercase().into()
        } else {
            acct.into()
        };
        let line = frame.header.line.as_ref().map(|l| l.as_str());
        let receiver = frame.header.receiver.as_ref().map(|r| r.as_str());
        let matches = |want: &Option<String>, got: Option<&str>| {
            want.as_deref()
                .is_none_or(|w| got.is_some_and(|g| g.eq_ignore_ascii_case(w)))
        };
        self.by_account
            .get(acct.as_ref())?
            .iter()
            .filter(|a| matches(&a.entry.line, line) && matches(&a.entry.receiver, receiver))
            .max_by_key(|a| {
                usize::from(a.entry.line.is_some()) + usize::from(a.entry.receiver.is_some())
            })
    }

    /// The key policy for a frame.
    pub fn key_for(&self, frame: &Frame) -> AccountKey<'_> {
        match self.find(frame) {
            Some(Account { key: Some(k), .. }) => AccountKey::Encrypted(k),
            Some(_) => AccountKey::Clear,
            None => AccountKey::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use vagt_dc09::{FrameDecoder, Tolerance};

    use super::*;

    fn frame(body: &str) -> Frame {
        let wire = vagt_dc09::wrap_body(body.as_bytes()).unwrap();
        let raw = FrameDecoder::default()
            .decode(&mut BytesMut::from(&wire[..]))
            .unwrap()
            .unwrap();
        Frame::parse(&raw, &Tolerance::default()).unwrap()
    }

    #[test]
    fn example_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/accounts.example.toml");
        let a = Accounts::load(&path).unwrap();
        assert!(a.len() >= 3);
    }

    #[test]
    fn most_specific_entry_wins() {
        let a = Accounts::parse(
            r#"
            [[accounts]]
            account = "1234"
            citizen = "any-line"
            [[accounts]]
            account = "1234"
            line = "3"
            key = "text:0123456789ABCDEF"
            citizen = "line-3"
            "#,
        )
        .unwrap();
        let f = frame(r#""SIA-DCS"0001L3#1234[#1234|NBA5]"#);
        assert_eq!(a.find(&f).unwrap().entry.citizen.as_deref(), Some("line-3"));
        assert!(matches!(a.key_for(&f), AccountKey::Encrypted(_)));
        let f = frame(r#""SIA-DCS"0001L0#1234[#1234|NBA5]"#);
        assert_eq!(
            a.find(&f).unwrap().entry.citizen.as_deref(),
            Some("any-line")
        );
        let f = frame(r#""SIA-DCS"0001L0#9999[#9999|NBA5]"#);
        assert!(matches!(a.key_for(&f), AccountKey::Unknown));
    }

    #[test]
    fn the_written_file_reads_back_the_same_with_its_keys() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/accounts.example.toml");
        let a = Accounts::load(&path).unwrap();
        let text = a.to_file().unwrap();
        let back = Accounts::parse(&text).unwrap();
        assert_eq!(back.sorted_entries(), a.sorted_entries());
        assert!(
            text.contains("text:0123456789ABCDEF"),
            "keys are kept in the file"
        );
        // An edit keeps the account's key unless a new one is given; a bad entry is refused.
        let mut e = a.entry("5678").unwrap().clone();
        e.key = None;
        e.district = Some("Sygeplejen Vest".into());
        let edited = a.with_entry(e.clone(), None).unwrap();
        let kept = edited.entry("5678").unwrap();
        assert_eq!(kept.key.as_deref(), Some("text:0123456789ABCDEF"));
        assert_eq!(kept.changed_fields(a.entry("5678").unwrap()), ["district"]);
        let rekeyed = a
            .with_entry(e.clone(), Some("text:FEDCBA9876543210".into()))
            .unwrap();
        assert_eq!(
            rekeyed
                .entry("5678")
                .unwrap()
                .changed_fields(a.entry("5678").unwrap()),
            ["key", "district"]
        );
        assert!(a.with_entry(e, Some("short".into())).is_err());
        let gone = a.without_entry("5678", None, None).unwrap();
        assert!(gone.entry("5678").is_none() && gone.len() == a.len() - 1);
        assert!(a.without_entry("9999", None, None).is_none());
    }

    #[test]
    fn a_syntax_error_names_the_line_not_the_key_on_it() {
        for bad in [
            "[[accounts]]\naccount = \"1234\"\nkey = \"text:0123456789ABCDEF\n",
            "[[accounts]]\naccount = \"1234\"\nkye = \"text:0123456789ABCDEF\"\n",
            "[[accounts]]\naccount = \"1234\"\nkey = text:0123456789ABCDEF\n",
        ] {
            let e = format!("{:#}", Accounts::parse(bad).unwrap_err());
            assert!(!e.contains("0123456789"), "{e}");
            assert!(e.contains("line 3"), "{e}");
        }
    }

    #[test]
    fn bad_entries_are_named() {
        let e = format!(
            "{:#}",
            Accounts::parse("[[accounts]]\naccount = \"12\"").unwrap_err()
        );
        assert!(e.contains("accounts[0].account"), "{e}");
        let e = format!(
            "{:#}",
            Accounts::parse("[[accounts]]\naccount = \"1234\"\nkey = \"short\"").unwrap_err()
        );
        assert!(e.contains("accounts[0] (1234).key"), "{e}");
        let e = format!(
            "{:#}",
            Accounts::parse("[[accounts]]\naccount = \"1234\"\ncolour = \"red\"").unwrap_err()
        );
        assert!(e.contains("colour"), "{e}");
    }
}
