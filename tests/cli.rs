//! The command line as a person reads it: counts written as English writes them ("1 program",
//! "3 programs") in `pantau check`, `import` and `export`, a backup into a folder that does not
//! exist says to create it, and `pantau token list` keeps its columns aligned whatever the
//! labels hold (non-ASCII letters too). The real binary runs on a fresh folder each time.

mod common;

use common::process::pantau_output;
use common::*;
use std::path::Path;

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `pantau --config <config> <args>`, failing the test unless it succeeds.
fn ok(config: &Path, args: &[&str]) -> String {
    let mut all = vec!["--config", config.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = pantau_output(&all);
    assert!(o.status.success(), "pantau {all:?}: {}", out(&o));
    out(&o)
}

#[test]
fn counts_of_one_are_singular_and_of_many_plural() {
    // One of everything (and no feed).
    let one = tempfile::tempdir().unwrap();
    let config = write_config(one.path(), VISITS_PLAN, "");
    let check = ok(&config, &["check"]);
    assert!(
        check.contains(
            "ok: 1 department, 1 dimension, 1 program (1 quick win), 1 indicator, 0 feeds"
        ),
        "{check}"
    );
    std::fs::write(
        one.path().join("one.csv"),
        "indicator,time,value\nliving.health.visits,2024-01-01,5\n",
    )
    .unwrap();
    let csv = one.path().join("one.csv");
    let imported = ok(&config, &["import", csv.to_str().unwrap(), "--create"]);
    assert!(imported.contains("imported 1 row from"), "{imported}");
    let export = one.path().join("out.csv");
    let exported = ok(&config, &["export", export.to_str().unwrap()]);
    assert!(exported.contains("exported 1 observation to"), "{exported}");
    std::fs::write(
        one.path().join("bad.csv"),
        "indicator,time,value\nno.such.indicator,2024-01-02,5\n",
    )
    .unwrap();
    let bad = one.path().join("bad.csv");
    let o = pantau_output(&[
        "--config",
        config.to_str().unwrap(),
        "import",
        bad.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        out(&o).contains(": 1 problem; nothing was imported"),
        "{}",
        out(&o)
    );

    // Many: the example city.
    let many = tempfile::tempdir().unwrap();
    let config = write_config(many.path(), &example_masterplan(), "");
    let check = ok(&config, &["check"]);
    let line = check.lines().find(|l| l.starts_with("ok: ")).unwrap();
    for word in [
        " departments, ",
        " dimensions, ",
        " programs (",
        " quick wins), ",
        " indicators, ",
    ] {
        assert!(line.contains(word), "{line}");
    }
    assert!(
        !line.contains(" 1 program") && !line.contains("(1 quick win"),
        "{line}"
    );
    std::fs::write(
        many.path().join("two.csv"),
        "indicator,time,value\nliving.health.stunting,2024-01-01,20\nliving.health.stunting,2024-02-01,19\n",
    )
    .unwrap();
    let csv = many.path().join("two.csv");
    let imported = ok(&config, &["import", csv.to_str().unwrap(), "--create"]);
    assert!(imported.contains("imported 2 rows from"), "{imported}");
    let export = many.path().join("out.csv");
    let exported = ok(&config, &["export", export.to_str().unwrap()]);
    assert!(
        exported.contains("exported 2 observations to"),
        "{exported}"
    );
    std::fs::write(
        many.path().join("bad.csv"),
        "indicator,time,value\nno.such,2024-01-02,5\nno.such.either,2024-01-03,6\n",
    )
    .unwrap();
    let bad = many.path().join("bad.csv");
    let o = pantau_output(&[
        "--config",
        config.to_str().unwrap(),
        "import",
        bad.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        out(&o).contains(": 2 problems; nothing was imported"),
        "{}",
        out(&o)
    );
}

#[test]
fn a_backup_into_a_missing_folder_says_to_create_it_first() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), VISITS_PLAN, "");
    ok(&config, &["token", "create", "dinkes", "--create"]);
    let target = dir.path().join("no-such-folder").join("pantau.db");
    let o = pantau_output(&[
        "--config",
        config.to_str().unwrap(),
        "backup",
        target.to_str().unwrap(),
    ]);
    assert!(!o.status.success(), "{}", out(&o));
    let folder = dir.path().join("no-such-folder");
    let said = out(&o);
    assert!(
        said.contains(&format!("the folder {} does not exist", folder.display()))
            && said.contains("create it first")
            && said.contains(&format!("mkdir -p {}", folder.display())),
        "{said}"
    );
    assert!(!folder.exists(), "nothing made behind the user's back");
    // Once the folder is there, the same command writes the backup.
    std::fs::create_dir(&folder).unwrap();
    let written = ok(&config, &["backup", target.to_str().unwrap()]);
    assert!(written.contains("backup written to"), "{written}");
    assert!(target.exists());
}

#[test]
fn token_list_keeps_its_columns_aligned_with_any_label() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), VISITS_PLAN, "");
    for label in ["Bu Siti Nurhaliza — Puskesmas Kedundung", "ö", ""] {
        ok(
            &config,
            &["token", "create", "dinkes", "--label", label, "--create"],
        );
    }
    let _ = ok(&config, &["token", "revoke", "2"]);
    // The table alone: standard error names the database.
    let o = pantau_output(&["--config", config.to_str().unwrap(), "token", "list"]);
    assert!(o.status.success(), "{}", out(&o));
    let list = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<Vec<char>> = list
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.chars().collect())
        .collect();
    assert_eq!(lines.len(), 4, "a header and three tokens:\n{list}");
    // Where each column begins, from the header (counted in characters, as a terminal shows
    // them): "id", "department", "label", "created", "status".
    let header = &lines[0];
    let mut cols: Vec<usize> = (0..header.len())
        .filter(|&k| header[k] != ' ' && (k == 0 || header[k - 1] == ' '))
        .collect();
    let names: Vec<String> = cols
        .iter()
        .map(|&c| header[c..].iter().take_while(|ch| **ch != ' ').collect())
        .collect();
    assert_eq!(names, ["id", "department", "label", "created", "status"]);
    cols.push(usize::MAX);
    let cell = |line: &[char], k: usize| -> String {
        let end = cols[k + 1].min(line.len());
        let start = cols[k].min(end);
        // A column is separated from the one before by at least one space.
        if k > 0 && start < line.len() {
            assert_eq!(
                line[start - 1],
                ' ',
                "a cell starts at its column: {line:?}"
            );
        }
        line[start..end]
            .iter()
            .collect::<String>()
            .trim()
            .to_string()
    };
    let labels = ["Bu Siti Nurhaliza — Puskesmas Kedundung", "ö", ""];
    for (k, line) in lines[1..].iter().enumerate() {
        let text: String = line.iter().collect();
        assert_eq!(cell(line, 0), (k + 1).to_string(), "{text}");
        assert_eq!(cell(line, 1), "dinkes", "{text}");
        assert_eq!(cell(line, 2), labels[k], "{text}");
        assert!(
            cell(line, 3).starts_with("20"),
            "a date under created: {text}"
        );
        let status = cell(line, 4);
        if k == 1 {
            assert!(status.starts_with("revoked 20"), "{text}");
        } else {
            assert_eq!(status, "active", "{text}");
        }
    }
}
