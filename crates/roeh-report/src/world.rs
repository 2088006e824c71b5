//! The typst world of a report: one source file, the shipped fonts, no other files.

use crate::{Error, ErrorKind};
use std::sync::{LazyLock, Mutex};
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

/// The fonts shipped with roeh (SIL Open Font License 1.1, `assets/fonts/OFL.txt`).
static FONT_FILES: [&[u8]; 4] = [
    include_bytes!("../../../assets/fonts/NotoSans-Regular.ttf"),
    include_bytes!("../../../assets/fonts/NotoSans-Bold.ttf"),
    include_bytes!("../../../assets/fonts/NotoSansHebrew-Regular.ttf"),
    include_bytes!("../../../assets/fonts/NotoSansHebrew-Bold.ttf"),
];

struct Fonts {
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

static FONTS: LazyLock<Fonts> = LazyLock::new(|| {
    let fonts: Vec<Font> = FONT_FILES
        .iter()
        .flat_map(|b| Font::iter(Bytes::new(*b)))
        .collect();
    Fonts {
        book: LazyHash::new(FontBook::from_fonts(&fonts)),
        fonts,
    }
});

static LIBRARY: LazyLock<LazyHash<Library>> = LazyLock::new(|| LazyHash::new(Library::default()));

/// The one file id every report uses (ids are interned for the life of the process).
static MAIN: LazyLock<FileId> = LazyLock::new(|| {
    let path = VirtualPath::new("/report.typ").unwrap_or_else(|_| unreachable_path());
    RootedPath::new(VirtualRoot::Project, path).intern()
});

fn unreachable_path() -> VirtualPath {
    // "/report.typ" is a valid path; this is never reached.
    VirtualPath::new("/r.typ").unwrap_or_else(|_| std::process::abort())
}

/// Reports are laid out one at a time: typst's caches are shared, and evicted after each.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

struct ReportWorld {
    source: Source,
    today: Option<Datetime>,
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        &LIBRARY
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &FONTS.book
    }

    fn main(&self) -> FileId {
        *MAIN
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == *MAIN {
            Ok(self.source.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn file(&self, _id: FileId) -> FileResult<Bytes> {
        Err(FileError::AccessDenied)
    }

    fn font(&self, index: usize) -> Option<Font> {
        FONTS.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        self.today
    }
}

fn diagnostics(what: &str, d: &[SourceDiagnostic]) -> Error {
    Error {
        kind: ErrorKind::Internal,
        message: format!(
            "{what}: {}",
            d.iter()
                .map(|d| d.message.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

/// `markup` laid out and written as PDF; `today` is the date the document may show.
pub(crate) fn render(markup: &str, today: chrono::NaiveDate) -> Result<Vec<u8>, Error> {
    use chrono::Datelike;
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let world = ReportWorld {
        source: Source::new(*MAIN, markup.to_string()),
        today: Datetime::from_ymd(today.year(), today.month() as u8, today.day() as u8),
    };
    let doc = typst::compile::<PagedDocument>(&world)
        .output
        .map_err(|d| diagnostics("laying out the report", d.as_slice()));
    let out = doc.and_then(|doc| {
        typst_pdf::pdf(&doc, &typst_pdf::PdfOptions::default())
            .map_err(|d| diagnostics("writing the report's PDF", d.as_slice()))
    });
    typst::comemo::evict(0);
    out
}
