//! The one way pantau opens an XLSX workbook from outside, with caps checked before anything
//! is allocated: every reader of workbooks (uploads today, plans later) goes through `open`.
//!
//! An XLSX file is a zip archive of XML parts. A few hundred kilobytes can unpack to gigabytes
//! (one huge shared string, millions of empty cells, a deflate bomb, an entry that lies about
//! its size), and calamine holds some parts (the shared strings, the styles) whole in memory.
//! So `open` first walks every entry with the `zip` crate, decompressing through a counting,
//! capped reader into a sink: an entry whose declared or actual size passes its cap, an
//! archive whose total passes the total cap, an entry that unpacks far beyond its compressed
//! size, or too many entries, is refused with `WorkbookError::TooLarge` before calamine reads
//! it. `Workbook::cells` then streams one sheet's cells, empty ones counted too, up to
//! `Limits::max_cells`. calamine panics on some damaged workbooks; both catch that and answer
//! `WorkbookError::Unreadable` instead.

use calamine::{DataRef, Reader, Xlsx, XlsxError};
use std::io::{Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// How much a workbook may unpack to. The defaults keep one upload of 8 MiB within about
/// 100 MB of memory.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most entries in the archive (a workbook has a few dozen).
    pub max_entries: usize,
    /// Largest worksheet (`xl/worksheets/…`) unpacked, declared or actual. calamine streams
    /// worksheets, but one cell's text is held whole, so this also bounds one cell.
    pub max_sheet_bytes: u64,
    /// Largest other part unpacked (the shared strings and the styles are held whole).
    pub max_part_bytes: u64,
    /// All entries together, unpacked.
    pub max_total_bytes: u64,
    /// Most bytes unpacked per compressed byte, for entries that unpack to more than
    /// `RATIO_FLOOR` (XML worksheets compress 10 to 50 times; deflate bombs about a thousand).
    pub max_ratio: u64,
    /// Most cells read from one sheet, empty cells included.
    pub max_cells: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1000,
            max_sheet_bytes: 16 << 20,
            max_part_bytes: 8 << 20,
            max_total_bytes: 48 << 20,
            max_ratio: 250,
            max_cells: 1_000_000,
        }
    }
}

/// Entries that unpack to at most this much are not held to `max_ratio`.
pub const RATIO_FLOOR: u64 = 1 << 20;

/// Why a workbook was refused. Messages quote no more than an entry name, shortened.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkbookError {
    /// Not a workbook, or a damaged one.
    #[error(
        "the upload is not a readable XLSX workbook ({0}); open it in a spreadsheet program and save it again as .xlsx"
    )]
    Unreadable(String),
    /// Beyond a cap: too big once unpacked, or too many cells.
    #[error("{0}")]
    TooLarge(String),
}

fn unreadable(e: impl std::fmt::Display) -> WorkbookError {
    WorkbookError::Unreadable(super::shorten(&e.to_string(), 120).into_owned())
}

const MIB: u64 = 1 << 20;

fn mib(n: u64) -> String {
    format!("{} MiB", n.div_ceil(MIB))
}

fn too_large(what: String) -> WorkbookError {
    WorkbookError::TooLarge(format!(
        "{what}; save only the sheet with the data (indicator, time, value) in a new workbook, or split it into smaller files"
    ))
}

/// An opened workbook whose parts are known to fit the caps.
pub struct Workbook<'a> {
    book: Xlsx<Cursor<&'a [u8]>>,
    max_cells: u64,
}

/// Checks every entry of `body` against `limits`, then opens it with calamine.
pub fn open<'a>(body: &'a [u8], limits: &Limits) -> Result<Workbook<'a>, WorkbookError> {
    catch_unwind(AssertUnwindSafe(|| {
        scan(body, limits)?;
        let book: Xlsx<_> =
            calamine::open_workbook_from_rs(Cursor::new(body)).map_err(unreadable)?;
        Ok(Workbook {
            book,
            max_cells: limits.max_cells,
        })
    }))
    .unwrap_or_else(|_| Err(WorkbookError::Unreadable("it is damaged".into())))
}

/// Reads `n` bytes at most into nothing, counting them.
struct Counter {
    count: u64,
}

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.count += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn scan(body: &[u8], limits: &Limits) -> Result<(), WorkbookError> {
    // The central directory is read whole by the zip crate; count its records first so that an
    // archive of a hundred thousand tiny entries is refused without building them.
    let records = memchr_count(body, b"PK\x01\x02");
    if records > limits.max_entries {
        return Err(too_large(format!(
            "the workbook has more than {} parts",
            limits.max_entries
        )));
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(body)).map_err(unreadable)?;
    if zip.len() > limits.max_entries {
        return Err(too_large(format!(
            "the workbook has more than {} parts",
            limits.max_entries
        )));
    }
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(unreadable)?;
        if entry.is_dir() {
            continue;
        }
        let name = super::shorten(&String::from_utf8_lossy(entry.name_raw()), 60).into_owned();
        let sheet = name.starts_with("xl/worksheets/");
        let cap = if sheet {
            limits.max_sheet_bytes
        } else {
            limits.max_part_bytes
        };
        if entry.size() > cap {
            return Err(too_large(format!(
                "the workbook part `{name}` says it unpacks to {}, more than the {} pantau reads",
                mib(entry.size()),
                mib(cap)
            )));
        }
        let compressed = entry.compressed_size().max(1);
        let mut counter = Counter { count: 0 };
        std::io::copy(&mut (&mut entry).take(cap + 1), &mut counter).map_err(unreadable)?;
        let actual = counter.count;
        if actual > cap {
            return Err(too_large(format!(
                "the workbook part `{name}` unpacks to more than {} (it says {} bytes), more than pantau reads",
                mib(cap),
                entry.size()
            )));
        }
        if actual > RATIO_FLOOR && actual / compressed > limits.max_ratio {
            return Err(too_large(format!(
                "the workbook part `{name}` unpacks to {} times its packed size; a real sheet packs far less",
                actual / compressed
            )));
        }
        total += actual;
        if total > limits.max_total_bytes {
            return Err(too_large(format!(
                "the workbook unpacks to more than {} in all",
                mib(limits.max_total_bytes)
            )));
        }
    }
    Ok(())
}

/// How often `needle` occurs in `haystack`.
fn memchr_count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

impl Workbook<'_> {
    /// The sheet names in workbook order.
    pub fn sheet_names(&self) -> Vec<String> {
        self.book.sheet_names()
    }

    /// Streams the cells of sheet `name` in file order to `visit(row, column, value)` (0-based),
    /// empty cells included, refusing the sheet once it has more than `max_cells` cells. A
    /// chart sheet has no cells.
    pub fn cells<E: From<WorkbookError>>(
        &mut self,
        name: &str,
        mut visit: impl FnMut(u32, u32, &DataRef<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let max_cells = self.max_cells;
        let book = &mut self.book;
        catch_unwind(AssertUnwindSafe(|| {
            let mut reader = match book.worksheet_cells_reader(name) {
                Err(XlsxError::NotAWorksheet(_)) => return Ok(()),
                Err(e) => return Err(E::from(unreadable(e))),
                Ok(reader) => reader,
            };
            let mut count = 0u64;
            while let Some(cell) = reader.next_cell().map_err(|e| E::from(unreadable(e)))? {
                count += 1;
                if count > max_cells {
                    return Err(E::from(too_large(format!(
                        "the sheet `{}` has more than {max_cells} cells (empty cells count too)",
                        super::shorten(name, 40)
                    ))));
                }
                let (row, col) = cell.get_position();
                visit(row, col, cell.get_value())?;
            }
            Ok(())
        }))
        .unwrap_or_else(|_| Err(E::from(WorkbookError::Unreadable("it is damaged".into()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A zip archive of `(name, bytes)` entries, deflated.
    fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            out.start_file(*name, options).unwrap();
            out.write_all(bytes).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn bombs_are_refused_before_calamine_reads_them() {
        let zeros = vec![b'a'; 40 << 20];
        let bomb = archive(&[("xl/worksheets/sheet1.xml", &zeros)]);
        assert!(bomb.len() < 200_000, "{}", bomb.len());
        let e = open(&bomb, &Limits::default()).err().unwrap();
        assert!(
            matches!(&e, WorkbookError::TooLarge(m) if m.contains("xl/worksheets/sheet1.xml")),
            "{e}"
        );
        let strings = vec![b'a'; 9 << 20];
        let e = open(
            &archive(&[("xl/sharedStrings.xml", &strings)]),
            &Limits::default(),
        )
        .err()
        .unwrap();
        assert!(matches!(e, WorkbookError::TooLarge(_)), "{e}");
        let mut ratio = Limits::default();
        ratio.max_ratio = 10;
        let e = open(&archive(&[("xl/worksheets/sheet1.xml", &strings)]), &ratio)
            .err()
            .unwrap();
        assert!(e.to_string().contains("times its packed size"), "{e}");
        let many: Vec<(String, Vec<u8>)> =
            (0..1001).map(|i| (format!("x/{i}"), Vec::new())).collect();
        let refs: Vec<(&str, &[u8])> = many
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        let e = open(&archive(&refs), &Limits::default()).err().unwrap();
        assert!(e.to_string().contains("more than 1000 parts"), "{e}");
        let e = open(b"PK not a zip", &Limits::default()).err().unwrap();
        assert!(matches!(e, WorkbookError::Unreadable(_)), "{e}");
    }
}
