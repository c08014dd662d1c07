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
    /// Largest other part unpacked (the styles, the workbook, relationships: held whole).
    pub max_part_bytes: u64,
    /// Most memory the shared strings may take once calamine holds them: their unpacked
    /// bytes plus `SHARED_STRING_COST` for each string (each is a heap allocation of its own).
    pub max_shared_strings: u64,
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
            max_shared_strings: 24 << 20,
            max_total_bytes: 64 << 20,
            max_ratio: 250,
            max_cells: 1_000_000,
        }
    }
}

/// Entries that unpack to at most this much are not held to `max_ratio`.
pub const RATIO_FLOOR: u64 = 1 << 20;

/// What one shared string costs in memory besides its text: a `String` and its allocation.
pub const SHARED_STRING_COST: u64 = 64;

/// The usual name of the part holding the shared strings.
const SHARED_STRINGS: &str = "xl/sharedStrings.xml";

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

/// A sink that counts the bytes written to it and, for the shared strings, the `<si` tags
/// (one per string), also across the edges of the chunks it is handed.
struct Counter {
    count: u64,
    strings: u64,
    count_strings: bool,
    tail: [u8; 2],
}

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.count_strings {
            let head = &buf[..buf.len().min(2)];
            let mut joined = [0u8; 4];
            joined[..2].copy_from_slice(&self.tail);
            joined[2..2 + head.len()].copy_from_slice(head);
            self.strings += count_tag(&joined[..2 + head.len()]);
            self.strings += count_tag(buf);
            if buf.len() >= 2 {
                self.tail.copy_from_slice(&buf[buf.len() - 2..]);
            } else if let Some(&b) = buf.first() {
                self.tail = [self.tail[1], b];
            }
        }
        self.count += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How often `<si` occurs in `bytes`.
fn count_tag(bytes: &[u8]) -> u64 {
    bytes.windows(3).filter(|w| *w == b"<si").count() as u64
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
        // Any part but a worksheet may be the shared strings (the relationships name them), so
        // each is charged for the strings it holds; only the usual name gets the larger cap.
        let sheet = name.starts_with("xl/worksheets/");
        let cap = if sheet {
            limits.max_sheet_bytes
        } else if name == SHARED_STRINGS {
            limits.max_shared_strings
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
        let mut counter = Counter {
            count: 0,
            strings: 0,
            count_strings: !sheet,
            tail: [0; 2],
        };
        let declared = entry.size();
        if let Err(e) = std::io::copy(&mut (&mut entry).take(cap + 1), &mut counter) {
            // The zip reader stops an entry that unpacks past the size it declares, with this
            // error, before handing over the read that passes it.
            let lied =
                counter.count >= declared || e.to_string().contains("declared uncompressed size");
            return Err(if lied {
                too_large(format!(
                    "the workbook part `{name}` unpacks to more than the {declared} bytes it declares"
                ))
            } else {
                unreadable(e)
            });
        }
        let actual = counter.count;
        if actual.saturating_add(counter.strings.saturating_mul(SHARED_STRING_COST)) > cap {
            return Err(too_large(format!(
                "the workbook's strings in `{name}` ({} of them) would take more than the {} of memory pantau gives them",
                counter.strings,
                mib(cap)
            )));
        }
        if actual > cap {
            return Err(too_large(format!(
                "the workbook part `{name}` unpacks to more than {} (it says {declared} bytes), more than pantau reads",
                mib(cap)
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

    /// The merged regions of sheet `name` as `((first row, first column), (last row, last
    /// column))`, 0-based, at most `max_cells` of them (the sheet itself is within its cap).
    pub fn merged_regions(&mut self, name: &str) -> Result<Vec<Region>, WorkbookError> {
        let max = self.max_cells as usize;
        let book = &mut self.book;
        catch_unwind(AssertUnwindSafe(|| {
            let regions = book.merge_cells_by_sheet_name(name).map_err(unreadable)?;
            if regions.len() > max {
                return Err(too_large(format!(
                    "the sheet `{}` has more than {max} merged regions",
                    super::shorten(name, 40)
                )));
            }
            Ok(regions.iter().map(|d| (d.start, d.end)).collect())
        }))
        .unwrap_or_else(|_| Err(WorkbookError::Unreadable("it is damaged".into())))
    }
}

/// A merged region: its first and last (row, column), 0-based.
pub type Region = ((u32, u32), (u32, u32));

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
        let e = open(&archive(&[("xl/styles.xml", &strings)]), &Limits::default())
            .err()
            .unwrap();
        assert!(matches!(e, WorkbookError::TooLarge(_)), "{e}");
        // Long strings may take what they need; a million tiny ones cost their overhead.
        let tiny = "<si><t>a</t></si>".repeat(1_000_000);
        let e = open(
            &archive(&[("xl/sharedStrings.xml", tiny.as_bytes())]),
            &Limits::default(),
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("1000000 of them"), "{e}");
        // Under another name (the relationships may point anywhere) the smaller cap holds.
        let fewer = "<si><t>a</t></si>".repeat(300_000);
        let e = open(
            &archive(&[("xl/strings.xml", fewer.as_bytes())]),
            &Limits::default(),
        )
        .err()
        .unwrap();
        assert!(
            e.to_string().contains("`xl/strings.xml` (300000 of them)"),
            "{e}"
        );
        let mut counter = Counter {
            count: 0,
            strings: 0,
            count_strings: true,
            tail: [0; 2],
        };
        for chunk in ["<s", "i>", "x<", "si", "<", "s", "i", "<si<si"] {
            std::io::Write::write_all(&mut counter, chunk.as_bytes()).unwrap();
        }
        assert_eq!(counter.strings, 5);
        let ratio = Limits {
            max_ratio: 10,
            ..Limits::default()
        };
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
