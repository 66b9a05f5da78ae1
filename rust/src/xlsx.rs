//! Workbooks for Excel (`.xlsx`): the cells of tables written a record batch at a time with
//! `rust_xlsxwriter` in constant-memory mode (each sheet's rows go to a temporary file as they
//! are written, so memory holds one row, never the table).
//!
//! What a workbook holds (its sheets, their columns and widths, which column colours a row and
//! with which fills, the summary's rows) is decided by `rtbfast.excel`; this module writes it:
//! a sheet per table continued on `name (2)`, `(3)`… past the row limit, the header frozen, an
//! autofilter over all rows, a conditional format per colour over the rows and the colouring
//! cell filled, every text written as text (a value that starts like a formula carries Excel's
//! quote prefix), a text longer than a cell holds cut, saying so.

use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use rust_xlsxwriter::{Color, ConditionalFormatFormula, Format, FormatBorder, Workbook, XlsxError};

/// Rows of an Excel sheet (the header row is one of them).
pub const EXCEL_ROWS: u32 = 1_048_576;
/// Characters (UTF-16 code units) of an Excel cell.
pub const EXCEL_TEXT: usize = 32_767;
/// How a text Excel (or a program reading the sheet) could take for a formula begins.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A workbook that cannot be written, and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WorkbookError(String);

impl WorkbookError {
    /// A workbook used after it was closed (or after a panic while writing it).
    pub fn closed() -> Self {
        WorkbookError("the workbook is closed".into())
    }
}

impl From<XlsxError> for WorkbookError {
    fn from(err: XlsxError) -> Self {
        WorkbookError(err.to_string())
    }
}

pub type WorkbookResult<T> = std::result::Result<T, WorkbookError>;

/// A value of the summary sheet.
#[derive(Debug, Clone, PartialEq)]
pub enum SummaryValue {
    Bool(bool),
    Number(f64),
    Text(String),
}

/// A table being written: its sheets so far and where its rows stand.
struct TableState {
    name: String,
    headers: Vec<String>,
    widths: Vec<f64>,
    colour_at: Option<usize>,
    palette: Vec<String>,
    fill_formats: Vec<Format>,
    whole_text_in: String,
    sheet: Option<usize>,
    row: u32,
    sheets: Vec<(String, u32)>,
    rows: u64,
    cut: u64,
}

/// Where a table went: its sheets with their data rows, its rows, and the texts cut to fit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableWritten {
    pub sheets: Vec<(String, u32)>,
    pub rows: u64,
    pub cut: u64,
}

/// One workbook being written: the summary sheet first (written last, when the tables'
/// figures are known), then each table's sheets in turn.
pub struct WorkbookWriter {
    book: Workbook,
    path: PathBuf,
    row_limit: u32,
    header: Format,
    quoted: Format,
    table: Option<TableState>,
}

/// Excel's name of the column `index` (0: A, 26: AA).
pub fn column_letter(index: usize) -> String {
    let mut letters = Vec::new();
    let mut index = index + 1;
    while index > 0 {
        let rest = (index - 1) % 26;
        index = (index - 1) / 26;
        letters.push(b'A' + rest as u8);
    }
    letters.reverse();
    String::from_utf8_lossy(&letters).into_owned()
}

fn rgb(colour: &str) -> WorkbookResult<u32> {
    let hex = colour.trim_start_matches('#');
    u32::from_str_radix(hex, 16).map_err(|_| WorkbookError(format!("colour {colour:?}: expected #RRGGBB")))
}

fn fill_format(fill: u32, font: u32) -> Format {
    Format::new().set_background_color(Color::RGB(fill)).set_font_color(Color::RGB(font))
}

/// `n` with thousands separators, as every other count rtbfast writes.
fn grouped(n: usize) -> String {
    crate::templates::flatten::thousands(n)
}

/// `text` cut to fit an Excel cell, saying so and where the whole text is; None when it fits.
pub fn fitted(text: &str, whole_text_in: &str) -> Option<String> {
    if text.len() <= EXCEL_TEXT || text.encode_utf16().count() <= EXCEL_TEXT {
        return None;
    }
    let note = format!(
        " … [cut: {} characters, more than Excel's {}; the whole text is in {whole_text_in}]",
        grouped(text.chars().count()),
        grouped(EXCEL_TEXT)
    );
    let room = EXCEL_TEXT.saturating_sub(note.encode_utf16().count());
    let mut units = 0;
    let mut end = 0;
    for (at, c) in text.char_indices() {
        units += c.len_utf16();
        if units > room {
            break;
        }
        end = at + c.len_utf8();
    }
    Some(format!("{}{note}", &text[..end]))
}

fn looks_like_formula(text: &str) -> bool {
    text.starts_with(FORMULA_STARTS)
}

impl WorkbookWriter {
    /// A workbook to write at `path` (when closed), whose sheets hold `row_limit` rows each.
    pub fn new(path: &Path, row_limit: u32) -> WorkbookResult<Self> {
        if !(2..=EXCEL_ROWS).contains(&row_limit) {
            return Err(WorkbookError(format!(
                "a sheet holds its header and at least one row, at most {EXCEL_ROWS} rows (not {row_limit})"
            )));
        }
        let mut book = Workbook::new();
        book.add_worksheet_with_constant_memory()?.set_name("summary")?;
        Ok(WorkbookWriter {
            book,
            path: path.to_path_buf(),
            row_limit,
            header: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0xD9D9D9))
                .set_border_bottom(FormatBorder::Thin),
            quoted: Format::new().set_quote_prefix(),
            table: None,
        })
    }

    fn new_sheet(&mut self, name: &str, headers: &[String], widths: &[f64]) -> WorkbookResult<usize> {
        let ws = self.book.add_worksheet_with_constant_memory()?;
        ws.set_name(name)?;
        for (c, (header, width)) in headers.iter().zip(widths).enumerate() {
            let col = column(c)?;
            ws.set_column_width(col, *width)?;
            ws.write_string_with_format(0, col, header, &self.header)?;
        }
        ws.set_freeze_panes(1, 0)?;
        Ok(self.book.worksheets().len() - 1)
    }

    /// Start writing a table on the sheet `name`: its columns' `headers` and `widths`, the
    /// column `colour_at` whose value picks a row's colours from `palette` (value, fill and font
    /// as `#RRGGBB`), and
    /// where the whole of a text cut to fit a cell is (`whole_text_in`, said in the cell).
    pub fn begin_table(
        &mut self,
        name: &str,
        headers: Vec<String>,
        widths: Vec<f64>,
        colour_at: Option<usize>,
        palette: &[(String, String, String)],
        whole_text_in: &str,
    ) -> WorkbookResult<()> {
        if self.table.is_some() {
            return Err(WorkbookError("a table is being written: end it first".into()));
        }
        if headers.len() != widths.len() || headers.is_empty() {
            return Err(WorkbookError(format!("{name}: {} headers, {} widths", headers.len(), widths.len())));
        }
        let colour_at = colour_at.filter(|at| *at < headers.len() && !palette.is_empty());
        let fill_formats = palette
            .iter()
            .map(|(_, fill, font)| Ok(fill_format(rgb(fill)?, rgb(font)?)))
            .collect::<WorkbookResult<_>>()?;
        let palette = palette.iter().map(|(value, _, _)| value.clone()).collect();
        self.table = Some(TableState {
            name: name.to_string(),
            headers,
            widths,
            colour_at,
            palette,
            fill_formats,
            whole_text_in: whole_text_in.to_string(),
            sheet: None,
            row: 0,
            sheets: Vec::new(),
            rows: 0,
            cut: 0,
        });
        Ok(())
    }

    /// Close the table's current sheet: its autofilter and its rows' colours.
    fn close_sheet(book: &mut Workbook, table: &mut TableState) -> WorkbookResult<()> {
        let Some(index) = table.sheet else { return Ok(()) };
        let ws = book.worksheet_from_index(index)?;
        let last = column(table.headers.len() - 1)?;
        ws.autofilter(0, 0, table.row, last)?;
        if let (Some(at), true) = (table.colour_at, table.row > 0) {
            let letter = column_letter(at);
            for (value, format) in table.palette.iter().zip(&table.fill_formats) {
                let rule = ConditionalFormatFormula::new()
                    .set_rule(format!("=${letter}2=\"{value}\"").as_str())
                    .set_format(format);
                ws.add_conditional_format(1, 0, table.row, last, &rule)?;
            }
        }
        table.sheets.push((ws.name(), table.row));
        Ok(())
    }

    /// Write a batch of the table's rows (its columns in the order of the headers: text,
    /// integers exact in a double, floats, booleans, nulls).
    pub fn write_batch(&mut self, batch: &RecordBatch) -> WorkbookResult<()> {
        let Some(mut table) = self.table.take() else {
            return Err(WorkbookError("no table is being written".into()));
        };
        let result = self.write_rows(&mut table, batch);
        self.table = Some(table);
        result
    }

    fn write_rows(&mut self, table: &mut TableState, batch: &RecordBatch) -> WorkbookResult<()> {
        if batch.num_columns() != table.headers.len() {
            return Err(WorkbookError(format!(
                "{}: a batch of {} columns, {} headers",
                table.name,
                batch.num_columns(),
                table.headers.len()
            )));
        }
        let columns: Vec<Column<'_>> =
            batch.columns().iter().map(|c| Column::of(c.as_ref(), &table.name)).collect::<WorkbookResult<_>>()?;
        for i in 0..batch.num_rows() {
            if table.sheet.is_none() || table.row == self.row_limit - 1 {
                Self::close_sheet(&mut self.book, table)?;
                let part = table.sheets.len() + 1;
                let name = if part == 1 { table.name.clone() } else { format!("{} ({part})", table.name) };
                let (headers, widths) = (table.headers.clone(), table.widths.clone());
                table.sheet = Some(self.new_sheet(&name, &headers, &widths)?);
                table.row = 0;
            }
            table.row += 1;
            let row = table.row;
            let ws = self.book.worksheet_from_index(table.sheet.unwrap_or_default())?;
            for (c, values) in columns.iter().enumerate() {
                let col = column(c)?;
                match values.cell(i) {
                    Cell::Empty => {}
                    Cell::Number(n) => {
                        ws.write_number(row, col, n)?;
                    }
                    Cell::Bool(b) => {
                        ws.write_boolean(row, col, b)?;
                    }
                    Cell::Text(text) => {
                        if text.len() > EXCEL_TEXT / 2 || looks_like_formula(text) {
                            let cut = fitted(text, &table.whole_text_in);
                            let value = cut.as_deref().unwrap_or(text);
                            table.cut += u64::from(cut.is_some());
                            if looks_like_formula(value) {
                                ws.write_string_with_format(row, col, value, &self.quoted)?;
                            } else {
                                ws.write_string(row, col, value)?;
                            }
                        } else if Some(c) == table.colour_at {
                            match table.palette.iter().position(|v| v == text) {
                                Some(k) => ws.write_string_with_format(row, col, text, &table.fill_formats[k])?,
                                None => ws.write_string(row, col, text)?,
                            };
                        } else {
                            ws.write_string(row, col, text)?;
                        }
                    }
                }
            }
        }
        table.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Finish the table: its last sheet closed (its header alone when it had no rows).
    pub fn end_table(&mut self) -> WorkbookResult<TableWritten> {
        let Some(mut table) = self.table.take() else {
            return Err(WorkbookError("no table is being written".into()));
        };
        if table.sheet.is_none() {
            let (name, headers, widths) = (table.name.clone(), table.headers.clone(), table.widths.clone());
            table.sheet = Some(self.new_sheet(&name, &headers, &widths)?);
        }
        Self::close_sheet(&mut self.book, &mut table)?;
        Ok(TableWritten { sheets: table.sheets, rows: table.rows, cut: table.cut })
    }

    /// Write the summary sheet: a row (section, item, value) each; texts longer than a cell
    /// holds are cut, saying the whole text is in the command's report.
    pub fn write_summary(&mut self, rows: &[(String, String, Option<SummaryValue>)]) -> WorkbookResult<()> {
        let (header, quoted) = (self.header.clone(), self.quoted.clone());
        let ws = self.book.worksheet_from_index(0)?;
        for (c, (name, width)) in [("section", 18.0), ("item", 40.0), ("value", 80.0)].into_iter().enumerate() {
            let col = column(c)?;
            ws.set_column_width(col, width)?;
            ws.write_string_with_format(0, col, name, &header)?;
        }
        ws.set_freeze_panes(1, 0)?;
        let text = |ws: &mut rust_xlsxwriter::Worksheet, row: u32, col: u16, value: &str| -> WorkbookResult<()> {
            let cut = fitted(value, "the report");
            let value = cut.as_deref().unwrap_or(value);
            if looks_like_formula(value) {
                ws.write_string_with_format(row, col, value, &quoted)?;
            } else {
                ws.write_string(row, col, value)?;
            }
            Ok(())
        };
        let mut last = 0u32;
        for (r, (section, item, value)) in rows.iter().enumerate() {
            let row = u32::try_from(r + 1).unwrap_or(EXCEL_ROWS);
            if row >= EXCEL_ROWS - 1 {
                text(ws, row, 0, "summary")?;
                text(ws, row, 1, "rows")?;
                text(ws, row, 2, "more than a sheet holds: the rest is in the command's report")?;
                last = row;
                break;
            }
            text(ws, row, 0, section)?;
            text(ws, row, 1, item)?;
            match value {
                Some(SummaryValue::Bool(b)) => {
                    ws.write_boolean(row, 2, *b)?;
                }
                Some(SummaryValue::Number(n)) => {
                    ws.write_number(row, 2, *n)?;
                }
                Some(SummaryValue::Text(t)) => text(ws, row, 2, t)?,
                None => {}
            }
            last = row;
        }
        ws.autofilter(0, 0, last, 2)?;
        Ok(())
    }

    /// Write the workbook's file.
    pub fn close(mut self) -> WorkbookResult<()> {
        if self.table.is_some() {
            return Err(WorkbookError("a table is being written: end it first".into()));
        }
        self.book.save(&self.path)?;
        Ok(())
    }
}

fn column(index: usize) -> WorkbookResult<u16> {
    u16::try_from(index)
        .ok()
        .filter(|c| *c < 16_384)
        .ok_or_else(|| WorkbookError(format!("column {}: more than Excel's 16,384", index + 1)))
}

/// A cell's value.
enum Cell<'a> {
    Empty,
    Number(f64),
    Bool(bool),
    Text(&'a str),
}

/// A batch's column, typed once.
enum Column<'a> {
    Utf8(&'a arrow_array::StringArray),
    LargeUtf8(&'a arrow_array::LargeStringArray),
    Utf8View(&'a arrow_array::StringViewArray),
    Bool(&'a arrow_array::BooleanArray),
    Number(Box<dyn Fn(usize) -> Option<f64> + 'a>),
    Null,
}

fn numbers<'a, T>(array: &'a arrow_array::PrimitiveArray<T>) -> Column<'a>
where
    T: arrow_array::ArrowPrimitiveType,
    T::Native: num_like::ToF64,
{
    Column::Number(Box::new(move |i| array.is_valid(i).then(|| num_like::ToF64::to_f64(array.value(i)))))
}

mod num_like {
    /// A number as Excel holds it (a double).
    pub trait ToF64: Copy {
        fn to_f64(self) -> f64;
    }
    macro_rules! lossy {
        ($($t:ty),*) => {$(impl ToF64 for $t {
            #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
            fn to_f64(self) -> f64 { self as f64 }
        })*};
    }
    lossy!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);
}

impl<'a> Column<'a> {
    fn of(array: &'a dyn Array, table: &str) -> WorkbookResult<Self> {
        Ok(match array.data_type() {
            DataType::Utf8 => Column::Utf8(array.as_string::<i32>()),
            DataType::LargeUtf8 => Column::LargeUtf8(array.as_string::<i64>()),
            DataType::Utf8View => Column::Utf8View(array.as_string_view()),
            DataType::Boolean => Column::Bool(array.as_boolean()),
            DataType::Int8 => numbers(array.as_primitive::<Int8Type>()),
            DataType::Int16 => numbers(array.as_primitive::<Int16Type>()),
            DataType::Int32 => numbers(array.as_primitive::<Int32Type>()),
            DataType::Int64 => numbers(array.as_primitive::<Int64Type>()),
            DataType::UInt8 => numbers(array.as_primitive::<UInt8Type>()),
            DataType::UInt16 => numbers(array.as_primitive::<UInt16Type>()),
            DataType::UInt32 => numbers(array.as_primitive::<UInt32Type>()),
            DataType::UInt64 => numbers(array.as_primitive::<UInt64Type>()),
            DataType::Float32 => numbers(array.as_primitive::<Float32Type>()),
            DataType::Float64 => numbers(array.as_primitive::<Float64Type>()),
            DataType::Null => Column::Null,
            other => {
                return Err(WorkbookError(format!(
                    "{table}: a column of {other}: text, numbers and booleans are written (convert it first)"
                )))
            }
        })
    }

    fn cell(&self, i: usize) -> Cell<'a> {
        match self {
            Column::Utf8(a) => {
                if a.is_valid(i) {
                    Cell::Text(a.value(i))
                } else {
                    Cell::Empty
                }
            }
            Column::LargeUtf8(a) => {
                if a.is_valid(i) {
                    Cell::Text(a.value(i))
                } else {
                    Cell::Empty
                }
            }
            Column::Utf8View(a) => {
                if a.is_valid(i) {
                    Cell::Text(a.value(i))
                } else {
                    Cell::Empty
                }
            }
            Column::Bool(a) => {
                if a.is_valid(i) {
                    Cell::Bool(a.value(i))
                } else {
                    Cell::Empty
                }
            }
            Column::Number(f) => match f(i) {
                None => Cell::Empty,
                Some(v) if v.is_nan() => Cell::Text("nan"),
                Some(v) if v == f64::INFINITY => Cell::Text("inf"),
                Some(v) if v == f64::NEG_INFINITY => Cell::Text("-inf"),
                Some(v) => Cell::Number(v),
            },
            Column::Null => Cell::Empty,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io::Read;
    use std::sync::Arc;

    use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
    use arrow_schema::{Field, Schema};

    use super::*;

    fn sheet_xml(path: &Path, n: usize) -> String {
        let file = std::fs::File::open(path).unwrap();
        let mut zip = zip::ZipArchive::new(file).unwrap();
        let mut xml = String::new();
        zip.by_name(&format!("xl/worksheets/sheet{n}.xml")).unwrap().read_to_string(&mut xml).unwrap();
        xml
    }

    #[test]
    fn a_table_is_written_over_sheets_with_its_cells_kept_as_they_are() {
        let dir = std::env::temp_dir().join(format!("rtbfast-xlsx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.xlsx");
        let long = "L".repeat(EXCEL_TEXT + 10);
        let text: ArrayRef = Arc::new(StringArray::from(vec![Some("=1+2"), Some("error"), None, Some(long.as_str())]));
        let severity: ArrayRef = Arc::new(StringArray::from(vec!["error", "info", "error", "info"]));
        let n: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3), Some(4)]));
        let real: ArrayRef = Arc::new(Float64Array::from(vec![1.5, f64::NAN, f64::INFINITY, 0.25]));
        let flag: ArrayRef = Arc::new(BooleanArray::from(vec![true, false, true, false]));
        let schema = Arc::new(Schema::new(vec![
            Field::new("text", DataType::Utf8, true),
            Field::new("severity", DataType::Utf8, false),
            Field::new("n", DataType::Int64, true),
            Field::new("real", DataType::Float64, false),
            Field::new("flag", DataType::Boolean, false),
        ]));
        let batch = RecordBatch::try_new(schema, vec![text, severity, n, real, flag]).unwrap();
        let headers: Vec<String> = ["text", "severity", "n", "real", "flag"].map(String::from).into();
        let mut book = WorkbookWriter::new(&path, 3).unwrap();
        book.begin_table(
            "violations",
            headers,
            vec![10.0; 5],
            Some(1),
            &[("error".into(), "#FFC7CE".into(), "#9C0006".into())],
            "t.parquet",
        )
        .unwrap();
        book.write_batch(&batch).unwrap();
        let written = book.end_table().unwrap();
        assert_eq!(written.sheets, vec![("violations".to_string(), 2), ("violations (2)".to_string(), 2)]);
        assert_eq!((written.rows, written.cut), (4, 1));
        book.write_summary(&[("run".into(), "command".into(), Some(SummaryValue::Text("rtbfast audit".into())))])
            .unwrap();
        book.close().unwrap();

        let summary = sheet_xml(&path, 1);
        assert!(summary.contains("<t>rtbfast audit</t>"), "{summary}");
        let first = sheet_xml(&path, 2);
        // the header, frozen, an autofilter over the rows, a conditional format per colour
        assert!(first.contains("<t>severity</t>") && first.contains(r#"state="frozen""#), "{first}");
        assert!(first.contains(r#"<autoFilter ref="A1:E3"/>"#), "{first}");
        assert!(first.contains(r#"sqref="A2:E3""#) && first.contains("<formula>$B2=\"error\"</formula>"), "{first}");
        // a formula is text with a quote prefix, numbers and booleans are values, NaN text
        assert!(first.contains(r#"t="inlineStr"><is><t>=1+2</t>"#), "{first}");
        assert!(first.contains(r#"<c r="C2" s="0"><v>1</v></c>"#) || first.contains(r#"<c r="C2"><v>1</v></c>"#));
        assert!(first.contains("<t>nan</t>") && first.contains(r#"t="b""#), "{first}");
        assert!(!first.contains("<f>"), "no formula: {first}");
        let second = sheet_xml(&path, 3);
        assert!(second.contains("<t>inf</t>") && second.contains("[cut: 32,777 characters"), "{second}");
        assert!(second.contains(r#"<autoFilter ref="A1:E3"/>"#), "{second}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_row_limit_is_excels() {
        assert!(WorkbookWriter::new(Path::new("x.xlsx"), EXCEL_ROWS + 1).is_err());
        let mut book = Workbook::new();
        let ws = book.add_worksheet();
        assert!(ws.write_number(EXCEL_ROWS - 1, 0, 1).is_ok());
        assert!(ws.write_number(EXCEL_ROWS, 0, 1).is_err());
    }

    #[test]
    fn a_long_text_is_cut_to_a_cell_saying_so() {
        let wide = "\u{1F600}".repeat(20_000);
        let cut = fitted(&wide, "t.parquet").unwrap();
        assert!(cut.encode_utf16().count() <= EXCEL_TEXT && cut.encode_utf16().count() > EXCEL_TEXT - 2);
        assert!(cut.contains("[cut: 20,000 characters, more than Excel's 32,767; the whole text is in t.parquet]"));
        assert_eq!(fitted(&"a".repeat(EXCEL_TEXT), "t"), None);
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
