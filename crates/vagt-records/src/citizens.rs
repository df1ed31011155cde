//! The citizen register: who is behind an account's citizen reference — name, address, phone
//! numbers, contacts, language, care notes — for the operator who calls back and the responder
//! who goes there.
//!
//! It is health data. The file must not be readable by others (it is refused otherwise); it is
//! never written to logs, metrics or `journal export`; the console shows a record only with an
//! alarm the user may see, and journals every view (who, when, which alarm, which citizen).
//!
//! Imported from the municipality as CSV (a header line; `;`-separated lists inside a field) or
//! JSON (an array of objects with the same names), README "The citizen register":
//!
//! ```text
//! citizen,name,address,phones,contacts,language,care_notes,key_box
//! borger-1,Karen Jensen,"Nørregade 1, 8000 Aarhus C",+4512345678,"Per Jensen (søn) +4587654321",da,Diabetes,Nøgleboks 1234
//! ```

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// One citizen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Citizen {
    /// The reference the accounts file uses (`citizen = "…"`).
    pub citizen: String,
    /// Full name.
    pub name: String,
    /// Street address, as the responder needs it.
    #[serde(default)]
    pub address: String,
    /// Phone numbers to call back, first the usual one.
    #[serde(default)]
    pub phones: Vec<String>,
    /// Relatives, neighbours, key holders: "name (relation) phone" each.
    #[serde(default)]
    pub contacts: Vec<String>,
    /// Language to speak (`da`, `en`, …).
    #[serde(default)]
    pub language: String,
    /// What the operator must know: conditions, hearing, dementia, medication.
    #[serde(default)]
    pub care_notes: String,
    /// How a responder gets in without an electronic lock (key box code, neighbour).
    #[serde(default)]
    pub key_box: String,
}

/// The register, by citizen reference.
#[derive(Clone, Debug, Default)]
pub struct Citizens {
    by_ref: HashMap<String, Citizen>,
    /// `sha256:` and the first 16 hex digits of the text it was read from (empty: no file).
    version: String,
}

/// The longest citizen reference, in characters.
const MAX_REFERENCE: usize = 64;
/// The longest field (care notes, a contact …), in characters.
const MAX_FIELD: usize = 2_000;
/// At most this many phone numbers or contacts …
const MAX_LIST: usize = 20;
/// … each at most this long (a whole record stays well inside a console message).
const MAX_ITEM: usize = 200;

/// The CSV columns, in this order.
const COLUMNS: [&str; 8] = [
    "citizen",
    "name",
    "address",
    "phones",
    "contacts",
    "language",
    "care_notes",
    "key_box",
];

impl Citizens {
    /// Loads a register (`.json`, else CSV). Refused if others may read the file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("citizen register {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o007 != 0 {
            bail!(
                "citizen register {} is readable by others (mode {:o}): it is health data; \
                 chmod 600 or 640 it",
                path.display(),
                mode & 0o777
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading citizen register {}", path.display()))?;
        let parsed = if path.extension().is_some_and(|e| e == "json") {
            Self::parse_json(&text)
        } else {
            Self::parse_csv(&text)
        };
        parsed.with_context(|| format!("citizen register {}", path.display()))
    }

    /// A register from a JSON array of citizens.
    pub fn parse_json(text: &str) -> anyhow::Result<Self> {
        // serde_json's message quotes the offending value (a phone number, a name): only its
        // kind and position go into the error, which may end up in a log.
        let list: Vec<Citizen> = serde_json::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "{:?} error at line {} column {} (not a list of citizens with the documented fields)",
                e.classify(),
                e.line(),
                e.column()
            )
        })?;
        Self::from_list(list, text)
    }

    /// A register from CSV with the header `citizen,name,address,phones,contacts,language,
    /// care_notes,key_box` (columns may be left out, not renamed; lists `;`-separated).
    pub fn parse_csv(text: &str) -> anyhow::Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header = reader.headers().context("no header line")?.clone();
        for h in &header {
            if !COLUMNS.contains(&h) {
                bail!("unknown column {h:?} (columns: {})", COLUMNS.join(", "));
            }
        }
        let column = |name: &str| header.iter().position(|h| h == name);
        let (Some(_), Some(_)) = (column("citizen"), column("name")) else {
            bail!("the columns citizen and name are required");
        };
        let mut list = Vec::new();
        for (i, row) in reader.records().enumerate() {
            // Position only: never a field's content in an error.
            let row = row.map_err(|_| anyhow::anyhow!("line {}: not a CSV row", i + 2))?;
            let field = |name: &str| {
                column(name)
                    .and_then(|c| row.get(c))
                    .unwrap_or_default()
                    .to_owned()
            };
            let list_of = |name: &str| {
                field(name)
                    .split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            list.push(Citizen {
                citizen: field("citizen"),
                name: field("name"),
                address: field("address"),
                phones: list_of("phones"),
                contacts: list_of("contacts"),
                language: field("language"),
                care_notes: field("care_notes"),
                key_box: field("key_box"),
            });
        }
        Self::from_list(list, text)
    }

    fn from_list(list: Vec<Citizen>, text: &str) -> anyhow::Result<Self> {
        let mut by_ref = HashMap::with_capacity(list.len());
        for (i, c) in list.into_iter().enumerate() {
            // Positions, never names: error messages end up in logs.
            if c.citizen.is_empty() || c.name.is_empty() {
                bail!("entry {}: citizen and name are required", i + 1);
            }
            if let Some(old) = by_ref.insert(c.citizen.clone(), c) {
                bail!("entry {}: citizen reference {:?} twice", i + 1, old.citizen);
            }
        }
        Ok(Self {
            by_ref,
            version: version_of(text.as_bytes()),
        })
    }

    /// The register as a file in the format `json` says (else CSV with every column), sorted by
    /// reference; reading it back gives the same register.
    pub fn encode(&self, json: bool) -> anyhow::Result<Vec<u8>> {
        let list = self.list();
        if json {
            let mut out = serde_json::to_vec_pretty(&list)?;
            out.push(b'\n');
            return Ok(out);
        }
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(COLUMNS)?;
        for c in list {
            w.write_record([
                c.citizen.as_str(),
                &c.name,
                &c.address,
                &c.phones.join("; "),
                &c.contacts.join("; "),
                &c.language,
                &c.care_notes,
                &c.key_box,
            ])?;
        }
        w.into_inner()
            .map_err(|e| anyhow::anyhow!("writing CSV: {e}"))
    }

    /// Reads a register from bytes in the format `json` says (else CSV).
    pub fn decode(bytes: &[u8], json: bool) -> anyhow::Result<Self> {
        let text = std::str::from_utf8(bytes).context("not UTF-8")?;
        if json {
            Self::parse_json(text)
        } else {
            Self::parse_csv(text)
        }
    }

    /// Which text the register was read from: `sha256:` and 16 hex digits (empty without a
    /// file). Journaled with every view and change, so the audit trail says which version of a
    /// record a user was shown.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Every citizen, by reference.
    pub fn list(&self) -> Vec<&Citizen> {
        let mut list: Vec<&Citizen> = self.by_ref.values().collect();
        list.sort_by(|a, b| a.citizen.cmp(&b.citizen));
        list
    }

    /// Adds `citizen` or replaces the record with its reference (the old one is returned).
    pub fn put(&mut self, citizen: Citizen) -> Option<Citizen> {
        self.by_ref.insert(citizen.citizen.clone(), citizen)
    }

    /// Removes the record of `reference`.
    pub fn remove(&mut self, reference: &str) -> Option<Citizen> {
        self.by_ref.remove(reference)
    }

    /// The citizen behind `reference`.
    pub fn get(&self, reference: &str) -> Option<&Citizen> {
        self.by_ref.get(reference)
    }

    /// How many citizens.
    pub fn len(&self) -> usize {
        self.by_ref.len()
    }

    /// Whether the register is empty.
    pub fn is_empty(&self) -> bool {
        self.by_ref.is_empty()
    }
}

impl Citizen {
    /// The record as the register keeps it (each field trimmed, empty list items dropped), or
    /// why it cannot be kept — named by field, never by content.
    pub fn checked(mut self) -> Result<Self, String> {
        for field in [
            &mut self.citizen,
            &mut self.name,
            &mut self.address,
            &mut self.language,
            &mut self.care_notes,
            &mut self.key_box,
        ] {
            *field = field.trim().to_owned();
        }
        for list in [&mut self.phones, &mut self.contacts] {
            *list = list
                .iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if self.citizen.is_empty() || self.name.is_empty() {
            return Err("the reference and the name are required".into());
        }
        let reference_ok = self.citizen.chars().count() <= MAX_REFERENCE
            && self
                .citizen
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !reference_ok {
            return Err(format!(
                "the reference must be 1–{MAX_REFERENCE} letters, digits, '-', '_' or '.'"
            ));
        }
        let long = [
            ("name", &self.name),
            ("address", &self.address),
            ("language", &self.language),
            ("care_notes", &self.care_notes),
            ("key_box", &self.key_box),
        ]
        .into_iter()
        .find(|(_, v)| v.chars().count() > MAX_FIELD);
        if let Some((field, _)) = long {
            return Err(format!("{field}: at most {MAX_FIELD} characters"));
        }
        let long_item = [("phones", &self.phones), ("contacts", &self.contacts)]
            .into_iter()
            .find(|(_, list)| list.iter().any(|v| v.chars().count() > MAX_ITEM));
        if let Some((field, _)) = long_item {
            return Err(format!("{field}: at most {MAX_ITEM} characters each"));
        }
        if self.phones.len() > MAX_LIST || self.contacts.len() > MAX_LIST {
            return Err(format!(
                "at most {MAX_LIST} phone numbers and {MAX_LIST} contacts"
            ));
        }
        // The CSV file keeps lists `;`-separated: an item with one would come back as two.
        if self
            .phones
            .iter()
            .chain(&self.contacts)
            .any(|s| s.contains(';'))
        {
            return Err("a phone number or contact may not contain ';'".into());
        }
        Ok(self)
    }

    /// The names of the fields that differ from `old` (for the audit trail: names, never
    /// values).
    pub fn changed_fields(&self, old: &Self) -> Vec<&'static str> {
        let mut changed = Vec::new();
        let pairs: [(&'static str, bool); 7] = [
            ("name", self.name != old.name),
            ("address", self.address != old.address),
            ("phones", self.phones != old.phones),
            ("contacts", self.contacts != old.contacts),
            ("language", self.language != old.language),
            ("care_notes", self.care_notes != old.care_notes),
            ("key_box", self.key_box != old.key_box),
        ];
        for (name, differs) in pairs {
            if differs {
                changed.push(name);
            }
        }
        changed
    }
}

/// `sha256:` and the first 16 hex digits of the SHA-256 of `bytes`.
fn version_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const CSV: &str = "citizen,name,address,phones,contacts,language,care_notes,key_box\n\
        borger-1,Karen Jensen,\"Nørregade 1, 8000 Aarhus C\",+4512345678; +4522222222,\
        \"Per Jensen (søn) +4587654321\",da,\"Diabetes, hører dårligt\",Nøgleboks 1234\n\
        borger-3,Ib Holm,Vestergade 3,,,,,\n";

    #[test]
    fn csv_rows_become_citizens_with_lists_split() {
        let r = Citizens::parse_csv(CSV).unwrap();
        assert_eq!(r.len(), 2);
        let k = r.get("borger-1").unwrap();
        assert_eq!(k.name, "Karen Jensen");
        assert_eq!(k.address, "Nørregade 1, 8000 Aarhus C");
        assert_eq!(k.phones, ["+4512345678", "+4522222222"]);
        assert_eq!(k.contacts, ["Per Jensen (søn) +4587654321"]);
        assert_eq!(k.care_notes, "Diabetes, hører dårligt");
        assert!(r.get("borger-3").unwrap().phones.is_empty());
    }

    #[test]
    fn an_edited_register_reads_back_the_same_in_either_format() {
        let mut r = Citizens::parse_csv(CSV).unwrap();
        let karen = r.get("borger-1").unwrap().clone();
        let edited = Citizen {
            phones: vec!["+4599999999".into()],
            care_notes: "Diabetes; hører dårligt, \"insulin\"".into(),
            ..karen.clone()
        }
        .checked()
        .unwrap();
        assert_eq!(edited.changed_fields(&karen), ["phones", "care_notes"]);
        r.put(edited.clone());
        r.remove("borger-3");
        for json in [false, true] {
            let bytes = r.encode(json).unwrap();
            let back = Citizens::decode(&bytes, json).unwrap();
            assert_eq!(back.list(), [&edited], "json: {json}");
            assert_ne!(back.version(), Citizens::parse_csv(CSV).unwrap().version());
        }
    }

    #[test]
    fn a_record_that_would_not_read_back_is_refused_by_field() {
        let ok = Citizen {
            citizen: " borger-9 ".into(),
            name: "Ib".into(),
            phones: vec![" +4511 ".into(), "".into()],
            ..Citizen::default()
        };
        let kept = ok.clone().checked().unwrap();
        assert_eq!(
            (kept.citizen.as_str(), kept.phones.as_slice()),
            ("borger-9", &["+4511".to_owned()][..])
        );
        let semi = Citizen {
            contacts: vec!["Per; Ole".into()],
            ..ok.clone()
        };
        assert!(semi.checked().unwrap_err().contains("';'"));
        let no_name = Citizen {
            name: " ".into(),
            ..ok.clone()
        };
        assert!(no_name.checked().unwrap_err().contains("required"));
        let long = Citizen {
            care_notes: "x".repeat(MAX_FIELD + 1),
            ..ok.clone()
        };
        assert_eq!(
            long.checked().unwrap_err(),
            "care_notes: at most 2000 characters"
        );
        let bad_ref = Citizen {
            citizen: "a,b".into(),
            ..ok
        };
        assert!(bad_ref.checked().is_err());
    }

    #[test]
    fn json_is_the_same_register() {
        let json =
            r#"[{"citizen": "borger-1", "name": "Karen Jensen", "phones": ["+4512345678"]}]"#;
        let r = Citizens::parse_json(json).unwrap();
        assert_eq!(r.get("borger-1").unwrap().phones, ["+4512345678"]);
    }

    #[test]
    fn bad_registers_are_refused_without_naming_anyone() {
        let e = Citizens::parse_csv("citizen,name,cpr\nb,Karen,010101-1234\n").unwrap_err();
        assert!(e.to_string().contains("unknown column \"cpr\""), "{e}");
        let e = Citizens::parse_csv("citizen,name\nb,Karen\nb,Karen Jensen\n").unwrap_err();
        assert!(
            e.to_string().contains("twice") && !e.to_string().contains("Karen"),
            "{e}"
        );
        let e = Citizens::parse_csv("citizen,name\nb,\n").unwrap_err();
        assert!(e.to_string().contains("required"), "{e}");
    }

    #[test]
    fn json_errors_never_quote_the_value() {
        for bad in [
            r#"[{"citizen": "b", "name": "Karen", "phones": "+4512345678"}]"#,
            r#"[{"citizen": "b", "name": "Karen", "key_box": 4711}]"#,
            r#"[{"citizen": "b", "name": "Karen", "cpr": "010101-1234"}]"#,
        ] {
            let e = format!("{:#}", Citizens::parse_json(bad).unwrap_err());
            for secret in ["12345678", "4711", "010101", "Karen"] {
                assert!(!e.contains(secret), "{e}");
            }
            assert!(e.contains("line 1"), "{e}");
        }
    }

    #[test]
    fn a_register_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("citizens.csv");
        std::fs::write(&path, CSV).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Citizens::load(&path).unwrap_err();
        assert!(e.to_string().contains("readable by others"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(Citizens::load(&path).unwrap().len(), 2);
    }
}
