//! `FieldReader`: reads one TOML table field by field, recording a `Problem` for every missing,
//! mistyped or unknown key instead of stopping at the first.

use super::Problem;
use chrono::NaiveDate;
use std::collections::BTreeSet;

/// Reads typed fields from one TOML table and collects problems.
pub struct FieldReader<'a> {
    file: &'a str,
    item: String,
    table: &'a toml::Table,
    used: BTreeSet<&'static str>,
    problems: &'a mut Vec<Problem>,
}

impl<'a> FieldReader<'a> {
    pub fn new(
        file: &'a str,
        item: String,
        table: &'a toml::Table,
        problems: &'a mut Vec<Problem>,
    ) -> Self {
        FieldReader {
            file,
            item,
            table,
            used: BTreeSet::new(),
            problems,
        }
    }

    /// Records a problem about `field` of this item.
    pub fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_string(),
            item: self.item.clone(),
            field: field.to_string(),
            message: message.into(),
        });
    }

    fn get(&mut self, key: &'static str) -> Option<&'a toml::Value> {
        self.used.insert(key);
        self.table.get(key)
    }

    fn missing(&mut self, key: &str, example: &str) {
        self.problem(key, format!("is missing; add it, e.g. `{key} = {example}`"));
    }

    fn wrong_type(&mut self, key: &str, expected: &str, found: &toml::Value) {
        self.problem(
            key,
            format!("must be {expected}, found {} `{found}`", found.type_str()),
        );
    }

    pub fn string(&mut self, key: &'static str, example: &str) -> Option<String> {
        match self.get(key) {
            None => {
                self.missing(key, example);
                None
            }
            Some(v) => self.as_string(key, v),
        }
    }

    pub fn opt_string(&mut self, key: &'static str) -> Option<String> {
        let v = self.get(key)?;
        self.as_string(key, v)
    }

    fn as_string(&mut self, key: &str, v: &toml::Value) -> Option<String> {
        match v.as_str() {
            Some(s) if !s.trim().is_empty() => Some(s.to_string()),
            Some(_) => {
                self.problem(key, "is empty; write a value");
                None
            }
            None => {
                self.wrong_type(key, "a string in quotes", v);
                None
            }
        }
    }

    pub fn opt_number(&mut self, key: &'static str) -> Option<f64> {
        let v = self.get(key)?;
        self.as_number(key, v)
    }

    pub fn as_number(&mut self, key: &str, v: &toml::Value) -> Option<f64> {
        let n = match v {
            toml::Value::Float(f) => *f,
            toml::Value::Integer(i) => *i as f64,
            other => {
                self.wrong_type(key, "a number", other);
                return None;
            }
        };
        if n.is_finite() {
            Some(n)
        } else {
            self.problem(key, "must be a finite number, not nan or inf");
            None
        }
    }

    pub fn opt_bool(&mut self, key: &'static str) -> Option<bool> {
        match self.get(key)? {
            toml::Value::Boolean(b) => Some(*b),
            other => {
                self.wrong_type(key, "true or false", other);
                None
            }
        }
    }

    pub fn opt_integer(&mut self, key: &'static str) -> Option<i64> {
        match self.get(key)? {
            toml::Value::Integer(i) => Some(*i),
            other => {
                self.wrong_type(key, "a whole number", other);
                None
            }
        }
    }

    pub fn date(&mut self, key: &'static str) -> Option<NaiveDate> {
        match self.get(key) {
            None => {
                self.missing(key, "2023-12-31");
                None
            }
            Some(v) => self.as_date(key, v),
        }
    }

    pub fn as_date(&mut self, key: &str, v: &toml::Value) -> Option<NaiveDate> {
        let text = match v {
            toml::Value::Datetime(d) if d.date.is_some() && d.time.is_none() => d.to_string(),
            toml::Value::String(s) => s.clone(),
            other => {
                self.wrong_type(key, "a date such as 2023-12-31", other);
                return None;
            }
        };
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                self.problem(
                    key,
                    format!("`{text}` is not a calendar date; write YYYY-MM-DD, e.g. 2023-12-31"),
                );
                None
            }
        }
    }

    pub fn opt_value(&mut self, key: &'static str) -> Option<&'a toml::Value> {
        self.get(key)
    }

    pub fn opt_array(&mut self, key: &'static str) -> Option<&'a Vec<toml::Value>> {
        match self.get(key)? {
            toml::Value::Array(a) => Some(a),
            other => {
                self.wrong_type(key, "a list in [ ]", other);
                None
            }
        }
    }

    pub fn opt_table(&mut self, key: &'static str) -> Option<&'a toml::Table> {
        match self.get(key)? {
            toml::Value::Table(t) => Some(t),
            other => {
                self.wrong_type(key, "a table", other);
                None
            }
        }
    }

    /// Reports every key of the table that no reader asked for.
    pub fn finish(mut self) {
        let known: Vec<&'static str> = self.used.iter().copied().collect();
        let unknown: Vec<String> = self
            .table
            .keys()
            .filter(|k| !self.used.contains(k.as_str()))
            .cloned()
            .collect();
        for key in unknown {
            let hint = closest(&key, &known)
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            self.problem(
                &key,
                format!(
                    "is not a known key; {hint}remove it or use one of: {}",
                    known.join(", ")
                ),
            );
        }
    }
}

/// The known key nearest to a misspelt one, if it is close.
pub fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_keys() {
        assert_eq!(
            closest("derection", &["direction", "kind"]),
            Some("direction")
        );
        assert_eq!(closest("zzz", &["direction", "kind"]), None);
    }
}
