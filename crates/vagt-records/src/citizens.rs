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
}

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
        Self::from_list(list)
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
        Self::from_list(list)
    }

    fn from_list(list: Vec<Citizen>) -> anyhow::Result<Self> {
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
        Ok(Self { by_ref })
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
