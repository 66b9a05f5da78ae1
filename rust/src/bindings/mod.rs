//! The only code that knows Python: the `rtbfast._native` module. Reads run with the GIL
//! released on owned inputs; results cross as Arrow through the C stream interface; errors
//! become the exception classes declared in `rtbfast.errors`.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StructArray};
use arrow_schema::{Field, Schema, SchemaRef};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyDict, PyList};
use pyo3_arrow::ffi::{to_stream_pycapsule, ArrayIterator};
use pyo3_arrow::PyTable;

use crate::error::Error;
use crate::tables::Table;
use crate::xml::{Progress, Warning};

/// One table, exported to any Arrow library through `__arrow_c_stream__`.
#[pyclass(module = "rtbfast._native", name = "ArrowTable", frozen)]
struct ArrowTable {
    /// One or more batches of the same schema (one per part of a file read in parallel).
    batches: Vec<RecordBatch>,
    schema: SchemaRef,
}

#[pymethods]
impl ArrowTable {
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyCapsule>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let schema = &self.schema;
        let arrays: Vec<ArrayRef> =
            self.batches.iter().map(|b| Arc::new(StructArray::from(b.clone())) as ArrayRef).collect();
        let field = Field::new_struct("", schema.fields().clone(), false).with_metadata(schema.metadata().clone());
        let reader = Box::new(ArrayIterator::new(arrays.into_iter().map(Ok), field.into()));
        Ok(to_stream_pycapsule(py, reader, requested_schema)?)
    }

    #[getter]
    fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Bytes read so far by a running read, and a way to stop it.
#[pyclass(module = "rtbfast._native", name = "Progress", frozen)]
struct PyProgress {
    inner: Arc<Progress>,
}

#[pymethods]
impl PyProgress {
    #[new]
    fn new() -> Self {
        PyProgress { inner: Arc::new(Progress::default()) }
    }

    #[getter]
    fn bytes_read(&self) -> u64 {
        self.inner.bytes.load(Ordering::Relaxed)
    }

    fn cancel(&self) {
        self.inner.cancel.store(true, Ordering::Relaxed);
    }
}

fn to_py_err(py: Python<'_>, err: Error) -> PyErr {
    let class_name = match err.kind() {
        crate::ErrorKind::Io => "InputIOError",
        crate::ErrorKind::Syntax => "XmlSyntaxError",
        crate::ErrorKind::Encoding => "EncodingError",
        crate::ErrorKind::Root => "WrongRootError",
        crate::ErrorKind::Value => "InvalidValueError",
        crate::ErrorKind::Archive => "ArchiveError",
    };
    let loc = err.location().clone();
    let make = || -> PyResult<PyErr> {
        let module = py.import("rtbfast.errors")?;
        let class = module.getattr(class_name)?;
        let value = class.call1((err.to_string(), loc.file, loc.line, loc.column, loc.element))?;
        Ok(PyErr::from_value(value))
    };
    make().unwrap_or_else(|e| PyRuntimeError::new_err(format!("{err} (and rtbfast.errors failed: {e})")))
}

fn warnings_list<'py>(py: Python<'py>, warnings: &[Warning]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for w in warnings {
        let l = &w.location;
        list.append((w.message.as_str(), l.file.as_str(), l.line, l.column, l.element.as_str()))?;
    }
    Ok(list)
}

fn tables_dict<'py>(py: Python<'py>, tables: Vec<Table>) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for t in tables {
        let schema = t.batches.first().map(RecordBatch::schema).unwrap_or_else(|| Arc::new(Schema::empty()));
        dict.set_item(t.name, Bound::new(py, ArrowTable { batches: t.batches, schema })?)?;
    }
    Ok(dict)
}

fn progress_of(progress: Option<&Bound<'_, PyProgress>>) -> Option<Arc<Progress>> {
    progress.map(|p| p.get().inner.clone())
}

/// Read an MP XML model on up to `threads` threads (0: one per core). Returns a dict with
/// `tables`, `warnings`, `skipped`, `dtd_version`.
#[pyfunction]
#[pyo3(signature = (path, progress=None, threads=0))]
fn read_mom<'py>(
    py: Python<'py>,
    path: PathBuf,
    progress: Option<&Bound<'py, PyProgress>>,
    threads: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let progress = progress_of(progress);
    let result = py.detach(|| crate::mom::read_mom_with(&path, progress.as_deref(), threads));
    let r = result.map_err(|e| to_py_err(py, e))?;
    let out = PyDict::new(py);
    out.set_item("tables", tables_dict(py, r.tables)?)?;
    out.set_item("warnings", warnings_list(py, &r.warnings)?)?;
    out.set_item("skipped", r.skipped)?;
    out.set_item("dtd_version", r.dtd_version)?;
    Ok(out)
}

/// Read a Bulk CM file on up to `threads` threads (0: one per core). Returns a dict with
/// `tables`, `warnings`, `header`.
#[pyfunction]
#[pyo3(signature = (path, progress=None, threads=0))]
fn read_bulkcm<'py>(
    py: Python<'py>,
    path: PathBuf,
    progress: Option<&Bound<'py, PyProgress>>,
    threads: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let progress = progress_of(progress);
    let result = py.detach(|| crate::bulkcm::read_bulkcm_with(&path, progress.as_deref(), threads));
    let r = result.map_err(|e| to_py_err(py, e))?;
    let out = PyDict::new(py);
    out.set_item("tables", tables_dict(py, r.tables)?)?;
    out.set_item("warnings", warnings_list(py, &r.warnings)?)?;
    out.set_item("header", r.header)?;
    Ok(out)
}

/// An export split into chunks of about `chunk_bytes` at node boundaries (see
/// `bulkcm::chunks`): `(start, end, head_end, access)` each, `end` `None` for the last,
/// `access` the access point (bytes) a chunk of a compressed export is decompressed from.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn bulkcm_chunks<'py>(
    py: Python<'py>,
    path: PathBuf,
    chunk_bytes: u64,
) -> PyResult<Vec<(u64, Option<u64>, u64, Option<Bound<'py, PyBytes>>)>> {
    let found = py.detach(|| crate::bulkcm::chunks(&path, chunk_bytes)).map_err(|e| to_py_err(py, e))?;
    Ok(found
        .into_iter()
        .map(|c| (c.start, c.end, c.head_end, c.access.map(|a| PyBytes::new(py, &a.to_bytes()))))
        .collect())
}

/// One chunk of an export read alone (after its head). Returns a dict with `tables`,
/// `warnings`, `header`, as `read_bulkcm` does for the whole file.
#[pyfunction]
#[pyo3(signature = (path, start, end, head_end, access = None))]
fn read_bulkcm_chunk<'py>(
    py: Python<'py>,
    path: PathBuf,
    start: u64,
    end: Option<u64>,
    head_end: u64,
    access: Option<&[u8]>,
) -> PyResult<Bound<'py, PyDict>> {
    let access = match access {
        None => None,
        Some(bytes) => Some(crate::input::access::Access::from_bytes(bytes).ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err(format!(
                "{}: not an access point of bulkcm_chunks (a chunk's `access` bytes)",
                path.display()
            ))
        })?),
    };
    let chunk = crate::bulkcm::Chunk { start, end, head_end, access };
    let r = py.detach(|| crate::bulkcm::read_chunk(&path, &chunk)).map_err(|e| to_py_err(py, e))?;
    let out = PyDict::new(py);
    out.set_item("tables", tables_dict(py, r.tables)?)?;
    out.set_item("warnings", warnings_list(py, &r.warnings)?)?;
    out.set_item("header", r.header)?;
    Ok(out)
}

/// Compile a constraints table and evaluate it over Network values (`mos`, `values`) on up to
/// `threads` threads (0: one per core), with the GIL released. Returns a dict with
/// `violations`, `checked` (values evaluated) and `problems` (constraint rows left out).
#[pyfunction]
#[pyo3(signature = (constraints, mos, values, threads=0))]
fn evaluate_constraints<'py>(
    py: Python<'py>,
    constraints: PyTable,
    mos: PyTable,
    values: PyTable,
    threads: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let (constraints, _) = constraints.into_inner();
    let (mos, _) = mos.into_inner();
    let (values, _) = values.into_inner();
    let result = py.detach(|| -> crate::Result<_> {
        let (rules, problems) = crate::rules::RuleSet::compile(&constraints)?;
        let (table, checked) = crate::rules::evaluate(&rules, &mos, &values, threads)?;
        Ok((table, checked, problems))
    });
    let (table, checked, problems) = result.map_err(|e| to_py_err(py, e))?;
    let out = PyDict::new(py);
    out.set_item("violations", tables_dict(py, vec![table])?.get_item("violations")?)?;
    out.set_item("checked", checked)?;
    let list = PyList::empty(py);
    for p in problems {
        list.append((p.row, p.class, p.attribute, p.message))?;
    }
    out.set_item("problems", list)?;
    Ok(out)
}

fn rule_problems<'py>(py: Python<'py>, problems: &[crate::rules::user::RuleProblem]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for p in problems {
        list.append((p.row, p.id.as_str(), p.field.as_str(), p.line, p.column, p.message.as_str()))?;
    }
    Ok(list)
}

/// Compile a table of user rules (CEL) on up to `threads` threads. Returns a dict with
/// `problems` (row, id, field, line, column, message) and `variables` (row index in the
/// compiled rules → the variables each rule reads, as (id, class, [names])).
#[pyfunction]
#[pyo3(signature = (rules, threads=0))]
fn compile_user_rules<'py>(py: Python<'py>, rules: PyTable, threads: usize) -> PyResult<Bound<'py, PyDict>> {
    let (rules, _) = rules.into_inner();
    let (compiled, problems) =
        py.detach(|| crate::rules::user::compile(&rules, threads)).map_err(|e| to_py_err(py, e))?;
    let out = PyDict::new(py);
    out.set_item("problems", rule_problems(py, &problems)?)?;
    let list = PyList::empty(py);
    for r in &compiled {
        list.append((r.id.as_str(), r.class.as_str(), r.variables.clone()))?;
    }
    out.set_item("variables", list)?;
    Ok(out)
}

/// Compile user rules and evaluate them over Network values (`mos`, `values`), typed by the
/// constraints table, on up to `threads` threads with the GIL released. Returns a dict with
/// `violations`, `checked` (rule × MO evaluations) and `problems` (rules left out).
#[pyfunction]
#[pyo3(signature = (rules, constraints, mos, values, threads=0))]
fn evaluate_user_rules<'py>(
    py: Python<'py>,
    rules: PyTable,
    constraints: PyTable,
    mos: PyTable,
    values: PyTable,
    threads: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let (rules, _) = rules.into_inner();
    let (constraints, _) = constraints.into_inner();
    let (mos, _) = mos.into_inner();
    let (values, _) = values.into_inner();
    let result = py.detach(|| -> crate::Result<_> {
        let (compiled, problems) = crate::rules::user::compile(&rules, threads)?;
        let (set, _) = crate::rules::RuleSet::compile(&constraints)?;
        let (table, checked) = crate::rules::user::evaluate(&compiled, &set, &mos, &values, threads)?;
        Ok((table, checked, problems))
    });
    let (table, checked, problems) = result.map_err(|e| to_py_err(py, e))?;
    let out = PyDict::new(py);
    out.set_item("violations", tables_dict(py, vec![table])?.get_item("violations")?)?;
    out.set_item("checked", checked)?;
    out.set_item("problems", rule_problems(py, &problems)?)?;
    Ok(out)
}

/// A Bulk CM export read group of parts by group (see `bulkcm::Streamer`): each `next()`
/// reads the next group with the GIL released and returns its tables.
#[pyclass(module = "rtbfast._native", name = "NetworkParts", frozen)]
struct PyNetworkParts {
    inner: std::sync::Mutex<crate::bulkcm::Streamer>,
    progress: Option<Arc<Progress>>,
    parts: usize,
}

#[pymethods]
impl PyNetworkParts {
    #[getter]
    fn parts(&self) -> usize {
        self.parts
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let progress = self.progress.clone();
        let group = py.detach(|| {
            let mut streamer = self.inner.lock().map_err(|_| crate::error::Error::Value {
                loc: crate::error::Location::default(),
                message: "the stream was left broken by an earlier failure".into(),
            })?;
            streamer.next_group(progress.as_deref())
        });
        let Some(g) = group.map_err(|e| to_py_err(py, e))? else { return Ok(None) };
        let out = PyDict::new(py);
        out.set_item("tables", tables_dict(py, g.tables)?)?;
        out.set_item("warnings", warnings_list(py, &g.warnings)?)?;
        out.set_item("header", g.header)?;
        out.set_item("done", g.done)?;
        out.set_item("size", g.size)?;
        Ok(Some(out))
    }
}

/// An export cut into parts of about `part_bytes`, read `threads` parts at a time (0: one per
/// core); `None` when it is not worth cutting (read it whole).
#[pyfunction]
#[pyo3(signature = (path, part_bytes, threads=0, progress=None))]
fn stream_bulkcm(
    py: Python<'_>,
    path: PathBuf,
    part_bytes: u64,
    threads: usize,
    progress: Option<&Bound<'_, PyProgress>>,
) -> PyResult<Option<PyNetworkParts>> {
    let progress = progress_of(progress);
    let streamer = py.detach(|| crate::bulkcm::stream(&path, part_bytes, threads)).map_err(|e| to_py_err(py, e))?;
    Ok(streamer.map(|s| PyNetworkParts { parts: s.parts(), inner: std::sync::Mutex::new(s), progress }))
}

/// `"mom"` or `"bulkcm"`, from the root element.
#[pyfunction]
fn detect_kind(py: Python<'_>, path: PathBuf) -> PyResult<&'static str> {
    let kind = py.detach(|| crate::detect_kind(&path)).map_err(|e| to_py_err(py, e))?;
    Ok(match kind {
        crate::InputKind::Mom => "mom",
        crate::InputKind::BulkCm => "bulkcm",
    })
}

/// Every input `path` holds (itself, or each XML member of a zip archive as
/// `archive.zip!member.xml`), and the warnings about the members passed over.
#[pyfunction]
fn list_inputs<'py>(py: Python<'py>, path: PathBuf) -> PyResult<(Vec<String>, Bound<'py, PyList>)> {
    let listing = py.detach(|| crate::input::list(&path)).map_err(|e| to_py_err(py, e))?;
    let names = listing.inputs.iter().map(|i| i.name()).collect();
    Ok((names, warnings_list(py, &listing.warnings)?))
}

/// The one input `path` names: `(name, compression, bytes on disk)`; the compression is
/// `"plain"`, `"gzip"`, `"bzip2"` or `"zip"`, the bytes the file's or the member's compressed
/// size (what a read's progress counts).
#[pyfunction]
fn input_info(py: Python<'_>, path: PathBuf) -> PyResult<(String, &'static str, u64)> {
    let input = py.detach(|| crate::input::Input::resolve(&path)).map_err(|e| to_py_err(py, e))?;
    let size = py.detach(|| input.stored_size());
    Ok((input.name(), input.compression.label(), size))
}

/// Read RTB templates on up to `threads` threads (0: one per core), counting files done in
/// `progress.bytes_read`. Returns the tables `files`, `mos`, `values`, `expressions`,
/// `calls`, `problems`, and with `keep_texts` also `texts`: the texts read, to locate
/// findings in ([`TemplateTexts`]).
#[pyfunction]
#[pyo3(signature = (paths, threads=0, progress=None, keep_texts=false))]
fn read_templates<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    threads: usize,
    progress: Option<&Bound<'py, PyProgress>>,
    keep_texts: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let progress = progress_of(progress);
    let read = py
        .detach(|| crate::templates::read_templates_with(&paths, threads, progress.as_deref(), keep_texts))
        .map_err(|e| to_py_err(py, e))?;
    let out = tables_dict(py, read.tables)?;
    if keep_texts {
        out.set_item("texts", Bound::new(py, TemplateTexts { paths, texts: read.texts })?)?;
    }
    Ok(out)
}

/// The texts of templates read, kept to locate findings in without reading the files again.
#[pyclass(module = "rtbfast._native", name = "TemplateTexts", frozen)]
struct TemplateTexts {
    paths: Vec<PathBuf>,
    texts: Vec<Option<String>>,
}

#[pymethods]
impl TemplateTexts {
    /// Lines and columns (1-based) of the rows of `pointers` (a table of `template`, the file's
    /// index, and `path`, a JSON pointer): a table of `line` and `column` (int32), row for row.
    /// As `locate_many`, a file whose text was not kept is read again (by its name's format).
    fn locate(&self, py: Python<'_>, pointers: PyTable) -> PyResult<ArrowTable> {
        use arrow_array::cast::AsArray;
        use arrow_array::types::Int32Type;
        use arrow_array::{Array, Int32Array};
        let (batches, _) = pointers.into_inner();
        let bad = || pyo3::exceptions::PyTypeError::new_err("pointers: a table of template (int32) and path (utf8)");
        let mut files = Vec::new();
        let mut paths = Vec::new();
        for b in &batches {
            let template =
                b.column_by_name("template").and_then(|c| c.as_primitive_opt::<Int32Type>()).ok_or_else(bad)?;
            let path = b.column_by_name("path").and_then(|c| c.as_string_opt::<i32>()).ok_or_else(bad)?;
            files.extend((0..template.len()).map(|i| template.value(i).max(0) as usize));
            paths.push(path.clone());
        }
        let spots = py.detach(|| {
            let pointers: Vec<&str> = paths
                .iter()
                .flat_map(|p| (0..p.len()).map(move |i| if p.is_null(i) { "" } else { p.value(i) }))
                .collect();
            crate::templates::document::locate_kept(&self.paths, &self.texts, &files, &pointers)
        });
        let line = Int32Array::from_iter_values(spots.iter().map(|s| s.0.min(i32::MAX as u64) as i32));
        let column = Int32Array::from_iter_values(spots.iter().map(|s| s.1.min(i32::MAX as u64) as i32));
        let schema = Arc::new(Schema::new(vec![
            Field::new("line", arrow_schema::DataType::Int32, false),
            Field::new("column", arrow_schema::DataType::Int32, false),
        ]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(line), Arc::new(column)])
            .map_err(|e| PyRuntimeError::new_err(format!("the lines and columns: {e}")))?;
        Ok(ArrowTable { batches: vec![batch], schema })
    }
}

/// A constraints table compiled once, to evaluate many values tables against.
#[pyclass(module = "rtbfast._native", name = "CompiledConstraints", frozen)]
struct CompiledConstraints {
    rules: crate::rules::RuleSet,
}

#[pymethods]
impl CompiledConstraints {
    #[new]
    fn new(py: Python<'_>, constraints: PyTable) -> PyResult<Self> {
        let (constraints, _) = constraints.into_inner();
        let (rules, _) = py.detach(|| crate::rules::RuleSet::compile(&constraints)).map_err(|e| to_py_err(py, e))?;
        Ok(CompiledConstraints { rules })
    }

    /// Evaluate over Network values (`mos`, `values`) on up to `threads` threads, with the GIL
    /// released. Returns a dict with `violations` (the Violations columns and `row`: the row of
    /// `values` each is about) and `checked` (values evaluated). `names=False` leaves out the
    /// `unknown_class` and `unknown_attribute` warnings.
    #[pyo3(signature = (mos, values, threads=0, names=true))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        mos: PyTable,
        values: PyTable,
        threads: usize,
        names: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (mos, _) = mos.into_inner();
        let (values, _) = values.into_inner();
        let result = py.detach(|| -> crate::Result<_> {
            let (table, rows, checked) = crate::rules::evaluate_rows(&self.rules, &mos, &values, threads, names)?;
            let batch = table.concat().map_err(|e| Error::Value {
                loc: crate::error::Location::default(),
                message: format!("violations table: {e}"),
            })?;
            let mut fields: Vec<Field> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.push(Field::new("row", arrow_schema::DataType::Int64, false));
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(arrow_array::Int64Array::from(rows)));
            let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| Error::Value {
                loc: crate::error::Location::default(),
                message: format!("violations table: {e}"),
            })?;
            Ok((Table::new("violations", batch), checked))
        });
        let (table, checked) = result.map_err(|e| to_py_err(py, e))?;
        let out = PyDict::new(py);
        out.set_item("violations", tables_dict(py, vec![table])?.get_item("violations")?)?;
        out.set_item("checked", checked)?;
        Ok(out)
    }
}

/// Lines and columns (1-based) of JSON pointers in the file at `path`: where the key or item
/// each names starts, as far as it can be followed.
#[pyfunction]
fn locate_pointers(py: Python<'_>, path: PathBuf, pointers: Vec<String>) -> PyResult<Vec<(u64, u64)>> {
    py.detach(|| {
        let text = std::fs::read(&path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        Ok(crate::templates::locate::locate(&text, &pointers))
    })
}

/// A typed template (YAML, TOML or JSON, by its name) as JSON text: `(format, json, None)`,
/// or `(format, None, (kind, message, line, column))` where `kind` is `io` (the file cannot
/// be read) or `document` (its text is not a typed template's document).
#[pyfunction]
#[allow(clippy::type_complexity)]
fn read_typed_document(
    py: Python<'_>,
    path: PathBuf,
) -> PyResult<(String, Option<String>, Option<(&'static str, String, u64, u64)>)> {
    use crate::templates::document::{read_document, Failure, Format};
    py.detach(|| {
        let name = path.display().to_string();
        let format = match Format::of_name(&name) {
            Some(Format::Yaml) => "yaml",
            Some(Format::Toml) => "toml",
            Some(Format::Json) => "json",
            None => "",
        };
        Ok(match read_document(&path) {
            Ok((_, _, json)) => (format.to_owned(), Some(json), None),
            Err(Failure::Io(message)) => (format.to_owned(), None, Some(("io", message, 0, 0))),
            Err(Failure::Document(e)) => (format.to_owned(), None, Some(("document", e.message, e.line, e.column))),
        })
    })
}

/// The keys repeated in an object of the JSON `text`: `(pointer, key, message, [(line,
/// column)…])`, the pointer and the last place being those of the value a template reads.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn duplicate_keys(py: Python<'_>, text: &str) -> Vec<(String, String, String, Vec<(u64, u64)>)> {
    py.detach(|| {
        crate::templates::locate::duplicate_keys(text)
            .into_iter()
            .map(|d| (d.pointer(), d.key.clone(), d.message(), d.at))
            .collect()
    })
}

/// Lines and columns of pointers in many files at once, on all cores: `[(path, pointers)]`
/// → a list of (line, column) per file, each file read in its format (YAML, TOML or JSON, by
/// its name).
#[pyfunction]
fn locate_many(py: Python<'_>, requests: Vec<(PathBuf, Vec<String>)>) -> Vec<Vec<(u64, u64)>> {
    py.detach(|| crate::templates::document::locate_many(&requests))
}

/// Lines and columns (1-based) of JSON pointers in the typed template at `path` (YAML, TOML
/// or JSON, by its name), as far as each can be followed.
#[pyfunction]
fn locate_document_pointers(py: Python<'_>, path: PathBuf, pointers: Vec<String>) -> PyResult<Vec<(u64, u64)>> {
    use crate::templates::document::{locate, Format};
    py.detach(|| {
        let text = std::fs::read(&path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        let format = Format::of_name(&path.display().to_string()).unwrap_or(Format::Json);
        Ok(locate(&text, format, &pointers))
    })
}

/// A template key read by its grammar: `("directive", name)`, `("attribute", name)`, or
/// `("mo", class, at, ids_kind, ids)`; `ValueError` naming why it fits no grammar.
/// `holds_value`: the key holds a value, not an object, a list or a sentinel (a naming
/// attribute spelled like a class, `MeContextId`, is then an attribute).
#[pyfunction]
#[pyo3(signature = (key, holds_value = false))]
fn parse_template_key(py: Python<'_>, key: &str, holds_value: bool) -> PyResult<Py<PyAny>> {
    use crate::templates::key::{parse_held, Ids, Key};
    let parsed = parse_held(key, holds_value).map_err(pyo3::exceptions::PyValueError::new_err)?;
    Ok(match parsed {
        Key::Directive(name) => ("directive", name).into_pyobject(py)?.into_any().unbind(),
        Key::Attribute(name) => ("attribute", name).into_pyobject(py)?.into_any().unbind(),
        Key::Mo { at, class, ids } => {
            let kind = ids.kind();
            let listed = match ids {
                Ids::Listed(ids) => ids,
                _ => Vec::new(),
            };
            ("mo", class, at, kind, listed).into_pyobject(py)?.into_any().unbind()
        }
    })
}

/// The refusals of a dialect writer as a table: `row` (among all the plan's rows) and `reason`.
fn refusals_table(refused: Vec<crate::enm::Refusal>) -> PyResult<ArrowTable> {
    use arrow_array::{Int64Array, StringArray};
    let schema = Arc::new(Schema::new(vec![
        Field::new("row", arrow_schema::DataType::Int64, false),
        Field::new("reason", arrow_schema::DataType::Utf8, false),
    ]));
    let rows = Int64Array::from_iter_values(refused.iter().map(|r| r.row as i64));
    let reasons = StringArray::from_iter_values(refused.iter().map(|r| r.reason.as_str()));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(rows), Arc::new(reasons)])
        .map_err(|e| PyRuntimeError::new_err(format!("the refusals: {e}")))?;
    Ok(ArrowTable { batches: vec![batch], schema })
}

/// A Plan (its rows in step order) as cmedit command lines: one per step (`form`: "fdn" or
/// "node"; `naming`: class → naming attribute). Returns a table of one column, `line`, and the
/// refusals (`row`, `reason`) of the steps cmedit cannot carry (not written).
#[pyfunction]
#[pyo3(signature = (plan, form, naming))]
fn cmedit_lines(
    py: Python<'_>,
    plan: PyTable,
    form: &str,
    naming: std::collections::HashMap<String, String>,
) -> PyResult<(ArrowTable, ArrowTable)> {
    let form = match form {
        "fdn" => crate::enm::Form::Fdn,
        "node" => crate::enm::Form::Node,
        other => return Err(pyo3::exceptions::PyValueError::new_err(format!("form {other:?}: fdn or node"))),
    };
    let (batches, _) = plan.into_inner();
    let (lines, refused) =
        py.detach(|| crate::enm::cmedit_array(&batches, form, &naming)).map_err(|e| to_py_err(py, e))?;
    Ok((text_column("line", lines)?, refusals_table(refused)?))
}

/// A table of one non-null utf8 column `name`.
fn text_column(name: &str, texts: arrow_array::ArrayRef) -> PyResult<ArrowTable> {
    let schema = Arc::new(Schema::new(vec![Field::new(name, arrow_schema::DataType::Utf8, false)]));
    let batch = RecordBatch::try_new(schema.clone(), vec![texts])
        .map_err(|e| PyRuntimeError::new_err(format!("the {name} column: {e}")))?;
    Ok(ArrowTable { batches: vec![batch], schema })
}

/// A Plan (rows in step order) as `dialect` ("dynamic" or "moshell") writes it: a table of one
/// column `text`, each step's text in step order (see `crate::enm::step_texts`; `naming`
/// gives a class's naming attribute), and the refusals (`row`, `reason`).
#[pyfunction]
#[pyo3(signature = (plan, dialect, naming))]
fn step_texts(
    py: Python<'_>,
    plan: PyTable,
    dialect: &str,
    naming: std::collections::HashMap<String, String>,
) -> PyResult<(ArrowTable, ArrowTable)> {
    let dialect = match crate::enm::Dialect::parse(dialect) {
        Some(d @ (crate::enm::Dialect::Dynamic | crate::enm::Dialect::Moshell)) => d,
        _ => return Err(pyo3::exceptions::PyValueError::new_err(format!("dialect {dialect:?}: dynamic or moshell"))),
    };
    let (batches, _) = plan.into_inner();
    let (texts, refused) =
        py.detach(|| crate::enm::step_texts(&batches, dialect, &naming)).map_err(|e| to_py_err(py, e))?;
    Ok((text_column("text", Arc::new(texts))?, refusals_table(refused)?))
}

/// The rows of a one-column text table (`utf8`) whose names `kind` ("class", "attribute",
/// "member", "mo_id", "fdn") refuses: a table `row`, `reason` (nulls are skipped).
#[pyfunction]
fn refused_names(py: Python<'_>, kind: &str, names: PyTable) -> PyResult<ArrowTable> {
    use arrow_array::cast::AsArray;
    use arrow_array::Array;
    let kind = crate::names::NameKind::parse(kind).ok_or_else(|| {
        pyo3::exceptions::PyValueError::new_err(format!("kind {kind:?}: class, attribute, member, mo_id or fdn"))
    })?;
    let (batches, _) = names.into_inner();
    let mut columns = Vec::with_capacity(batches.len());
    for batch in &batches {
        let column = batch
            .columns()
            .first()
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| pyo3::exceptions::PyTypeError::new_err("names: a table of one utf8 column"))?;
        columns.push(column.clone());
    }
    let refused = py.detach(|| {
        let mut out = Vec::new();
        let mut first = 0;
        for column in &columns {
            for (row, reason) in crate::names::refused(kind, column.iter()) {
                out.push(crate::enm::Refusal { row: first + row, reason });
            }
            first += column.len();
        }
        out
    });
    refusals_table(refused)
}

/// The `configData` content of a network (`mos`, `values`: plain text columns) as Bulk CM XML.
#[pyfunction]
fn network_xml(py: Python<'_>, mos: PyTable, values: PyTable) -> PyResult<String> {
    let (mos, _) = mos.into_inner();
    let (values, _) = values.into_inner();
    py.detach(|| crate::enm::bulkcm_writer::network_xml(&mos, &values)).map_err(|e| to_py_err(py, e))
}

/// The `configData` content of a network as [`network_xml`] writes it, and where each MO's
/// element is in it: a table `fdn`, `start`, `opened`, `closing`, `end` (byte offsets into the
/// UTF-8 text; see `crate::enm::bulkcm_writer::MoSpan`), in document order.
#[pyfunction]
fn network_xml_spans(py: Python<'_>, mos: PyTable, values: PyTable) -> PyResult<(String, ArrowTable)> {
    use arrow_array::cast::AsArray;
    use arrow_array::{Array, Int64Array, StringArray};
    let (mos, _) = mos.into_inner();
    let (values, _) = values.into_inner();
    let (text, spans) =
        py.detach(|| crate::enm::bulkcm_writer::network_xml_spans(&mos, &values)).map_err(|e| to_py_err(py, e))?;
    let mut fdns: Vec<&str> = Vec::new();
    for batch in &mos {
        let column = batch
            .column_by_name("fdn")
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| pyo3::exceptions::PyTypeError::new_err("mos: an fdn column of utf8"))?;
        fdns.extend((0..column.len()).map(|i| column.value(i)));
    }
    let fdn = StringArray::from_iter_values(spans.iter().map(|s| fdns.get(s.mo).copied().unwrap_or("")));
    let offsets = |f: fn(&crate::enm::bulkcm_writer::MoSpan) -> usize| {
        Arc::new(Int64Array::from_iter_values(spans.iter().map(|s| f(s) as i64))) as ArrayRef
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("fdn", arrow_schema::DataType::Utf8, false),
        Field::new("start", arrow_schema::DataType::Int64, false),
        Field::new("opened", arrow_schema::DataType::Int64, false),
        Field::new("closing", arrow_schema::DataType::Int64, false),
        Field::new("end", arrow_schema::DataType::Int64, false),
    ]));
    let columns = vec![
        Arc::new(fdn) as ArrayRef,
        offsets(|s| s.start),
        offsets(|s| s.opened),
        offsets(|s| s.closing),
        offsets(|s| s.end),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| PyRuntimeError::new_err(format!("the element spans: {e}")))?;
    Ok((text, ArrowTable { batches: vec![batch], schema }))
}

/// The node key of each text of a one-column table (utf8 or a dictionary of utf8): the FDN up
/// to its `MeContext`, else its `ManagedElement`; null where there is none (see
/// `crate::enm::nodes`). A table of one column, `node`.
#[pyfunction]
fn node_keys(py: Python<'_>, texts: PyTable) -> PyResult<ArrowTable> {
    let (batches, _) = texts.into_inner();
    let mut columns = Vec::with_capacity(batches.len());
    for batch in &batches {
        let column = batch
            .columns()
            .first()
            .cloned()
            .ok_or_else(|| pyo3::exceptions::PyTypeError::new_err("texts: a table of one column"))?;
        columns.push(column);
    }
    let keys = py
        .detach(|| columns.iter().map(|c| crate::enm::nodes::node_keys(c.as_ref())).collect::<crate::Result<Vec<_>>>())
        .map_err(|e| to_py_err(py, e))?;
    let schema = Arc::new(Schema::new(vec![Field::new("node", arrow_schema::DataType::Utf8, true)]));
    let batches = keys
        .into_iter()
        .map(|k| RecordBatch::try_new(schema.clone(), vec![k]))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PyRuntimeError::new_err(format!("the node keys: {e}")))?;
    Ok(ArrowTable { batches, schema })
}

/// A network's MOs and values indexed for the planner, the rollback and the simulator (made
/// once per network, with the GIL released).
/// A workbook being written (`crate::xlsx`): the summary sheet first, then each table's sheets,
/// a record batch at a time; the file is written by `close`.
#[pyclass(module = "rtbfast._native", name = "XlsxWorkbook", frozen)]
struct XlsxWorkbook {
    writer: std::sync::Mutex<Option<crate::xlsx::WorkbookWriter>>,
}

/// Where a table went: its sheets (name, data rows), its rows, and its texts cut to fit.
type TableWritten = (Vec<(String, u32)>, u64, u64);

fn xlsx_err(err: crate::xlsx::WorkbookError) -> PyErr {
    pyo3::exceptions::PyOSError::new_err(err.to_string())
}

impl XlsxWorkbook {
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut crate::xlsx::WorkbookWriter) -> crate::xlsx::WorkbookResult<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            let mut guard = self.writer.lock().map_err(|_| xlsx_err(crate::xlsx::WorkbookError::closed()))?;
            let writer = guard.as_mut().ok_or_else(|| xlsx_err(crate::xlsx::WorkbookError::closed()))?;
            f(writer).map_err(xlsx_err)
        })
    }
}

#[pymethods]
impl XlsxWorkbook {
    #[new]
    fn new(path: PathBuf, row_limit: u32) -> PyResult<Self> {
        let writer = crate::xlsx::WorkbookWriter::new(&path, row_limit).map_err(xlsx_err)?;
        Ok(XlsxWorkbook { writer: std::sync::Mutex::new(Some(writer)) })
    }

    #[pyo3(signature = (name, headers, widths, colour_at, palette, whole_text_in))]
    #[allow(clippy::too_many_arguments)] // the table's description, as excel.py gives it
    fn begin_table(
        &self,
        py: Python<'_>,
        name: String,
        headers: Vec<String>,
        widths: Vec<f64>,
        colour_at: Option<usize>,
        palette: Vec<(String, String, String)>,
        whole_text_in: String,
    ) -> PyResult<()> {
        self.with(py, |w| w.begin_table(&name, headers, widths, colour_at, &palette, &whole_text_in))
    }

    fn write_batch(&self, py: Python<'_>, batch: pyo3_arrow::PyRecordBatch) -> PyResult<()> {
        let batch = batch.into_inner();
        self.with(py, |w| w.write_batch(&batch))
    }

    /// The table's sheets (name, data rows), its rows, and its texts cut to fit.
    fn end_table(&self, py: Python<'_>) -> PyResult<TableWritten> {
        let t = self.with(py, |w| w.end_table())?;
        Ok((t.sheets, t.rows, t.cut))
    }

    fn write_summary(&self, py: Python<'_>, rows: Vec<(String, String, Option<SummaryCell>)>) -> PyResult<()> {
        let rows: Vec<_> = rows.into_iter().map(|(s, i, v)| (s, i, v.map(SummaryCell::into_value))).collect();
        self.with(py, |w| w.write_summary(&rows))
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| {
            let mut guard = self.writer.lock().map_err(|_| xlsx_err(crate::xlsx::WorkbookError::closed()))?;
            let writer = guard.take().ok_or_else(|| xlsx_err(crate::xlsx::WorkbookError::closed()))?;
            writer.close().map_err(xlsx_err)
        })
    }
}

/// A summary value as Python gives it: a boolean, a number or a text.
#[derive(FromPyObject)]
enum SummaryCell {
    Bool(bool),
    Number(f64),
    Text(String),
}

impl SummaryCell {
    fn into_value(self) -> crate::xlsx::SummaryValue {
        match self {
            SummaryCell::Bool(b) => crate::xlsx::SummaryValue::Bool(b),
            SummaryCell::Number(n) => crate::xlsx::SummaryValue::Number(n),
            SummaryCell::Text(t) => crate::xlsx::SummaryValue::Text(t),
        }
    }
}

#[pyclass(module = "rtbfast._native", name = "NetworkView", frozen)]
struct PyNetworkView {
    inner: crate::enm::view::NetworkView,
}

#[pymethods]
impl PyNetworkView {
    #[new]
    #[pyo3(signature = (mos, values=None))]
    fn new(py: Python<'_>, mos: PyTable, values: Option<PyTable>) -> PyResult<Self> {
        let (mos, mos_schema) = mos.into_inner();
        let values = values.map(|v| v.into_inner().0);
        let inner = py
            .detach(|| crate::enm::view::NetworkView::new(&mos_schema, &mos, values.as_deref()))
            .map_err(|e| to_py_err(py, e))?;
        Ok(PyNetworkView { inner })
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Whether each FDN of a one-column text table is an MO of the network: a table of one
    /// column, `exists`.
    fn exists(&self, py: Python<'_>, fdns: PyTable) -> PyResult<ArrowTable> {
        use arrow_array::builder::BooleanBuilder;
        let (batches, _) = fdns.into_inner();
        let net = &self.inner;
        let found = py.detach(|| -> crate::Result<BooleanBuilder> {
            let mut out = BooleanBuilder::new();
            for batch in &batches {
                let column =
                    batch.columns().first().cloned().unwrap_or_else(|| Arc::new(arrow_array::NullArray::new(0)));
                let text = crate::enm::view::Text::of(&column, "fdns", "fdn")?;
                for i in 0..text.len() {
                    out.append_value(text.get(i).is_some_and(|f| net.row_of(f).is_some()));
                }
            }
            Ok(out)
        });
        let mut found = found.map_err(|e| to_py_err(py, e))?;
        let schema = Arc::new(Schema::new(vec![Field::new("exists", arrow_schema::DataType::Boolean, false)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(found.finish())])
            .map_err(|e| PyRuntimeError::new_err(format!("exists: {e}")))?;
        Ok(ArrowTable { batches: vec![batch], schema })
    }
}

/// A catalog as the planner, the rollback and the simulator read it (made once per catalog).
#[pyclass(module = "rtbfast._native", name = "PlanningCatalog", frozen)]
struct PyPlanningCatalog {
    inner: crate::enm::view::PlanningCatalog,
}

#[pymethods]
impl PyPlanningCatalog {
    #[new]
    fn new(
        py: Python<'_>,
        constraints: PyTable,
        kinds: PyTable,
        flags: PyTable,
        admin: Vec<String>,
        locks: Vec<(String, String)>,
        system_created: Vec<String>,
    ) -> PyResult<Self> {
        let (constraints, _) = constraints.into_inner();
        let (kinds, kinds_schema) = kinds.into_inner();
        let (flags, flags_schema) = flags.into_inner();
        let inner = py
            .detach(|| -> crate::Result<_> {
                let (rules, _) = crate::rules::RuleSet::compile(&constraints)?;
                let kinds = crate::enm::view::one_batch(&kinds_schema, &kinds, "kinds")?;
                let flags = crate::enm::view::one_batch(&flags_schema, &flags, "flags")?;
                crate::enm::view::PlanningCatalog::with_rules(rules, &kinds, &flags, admin, locks, system_created)
            })
            .map_err(|e| to_py_err(py, e))?;
        Ok(PyPlanningCatalog { inner })
    }
}

fn one_table(py: Python<'_>, table: PyTable, name: &str) -> PyResult<RecordBatch> {
    let (batches, schema) = table.into_inner();
    crate::enm::view::one_batch(&schema, &batches, name).map_err(|e| to_py_err(py, e))
}

fn arrow_table(batch: RecordBatch) -> ArrowTable {
    ArrowTable { schema: batch.schema(), batches: vec![batch] }
}

/// Of a ChangeSet's writes, the rows of each attribute's last write in each phase (`seq`
/// order), without `target`, values written as the node compares them, with `kind` and
/// `is_sequence`.
#[pyfunction]
fn last_writes(py: Python<'_>, writes: PyTable, catalog: &Bound<'_, PyPlanningCatalog>) -> PyResult<ArrowTable> {
    let writes = one_table(py, writes, "writes")?;
    let catalog = &catalog.get().inner;
    let out = py.detach(|| crate::enm::planner::last_writes(&writes, catalog)).map_err(|e| to_py_err(py, e))?;
    Ok(arrow_table(out))
}

/// The steps of a checked ChangeSet: a dict with `order` (`take`: the row of the writes, or
/// past them of `own`, each row of the Plan is; its `step` and `op`), `own` (the rows of steps
/// of their own), `notes` ((code, fdn, detail)), `dropped` and `effects` (fdn, class,
/// attribute); or with `cycle` (the MOs of a cycle of mandatory references) alone.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn plan_steps<'py>(
    py: Python<'py>,
    writes: PyTable,
    creates: PyTable,
    deletes: PyTable,
    phase_names: std::collections::HashMap<i32, String>,
    effect_pairs: Vec<(String, String)>,
    network: &Bound<'py, PyNetworkView>,
    catalog: &Bound<'py, PyPlanningCatalog>,
) -> PyResult<Bound<'py, PyDict>> {
    use crate::enm::planner::{Note, Planned};
    let writes = one_table(py, writes, "writes")?;
    let creates = one_table(py, creates, "creates")?;
    let deletes = one_table(py, deletes, "deletes")?;
    let (net, cat) = (&network.get().inner, &catalog.get().inner);
    let names: rustc_hash::FxHashMap<i32, String> = phase_names.into_iter().collect();
    let pairs: rustc_hash::FxHashSet<(String, String)> = effect_pairs.into_iter().collect();
    let planned = py
        .detach(|| crate::enm::planner::plan_steps(&writes, &creates, &deletes, &names, &pairs, net, cat))
        .map_err(|e| to_py_err(py, e))?;
    let out = PyDict::new(py);
    match planned {
        Planned::Cycle(remaining) => out.set_item("cycle", remaining)?,
        Planned::Steps(s) => {
            let s = *s;
            let layout = &s.layout;
            let schema = Arc::new(Schema::new(vec![
                Field::new("take", arrow_schema::DataType::Int64, false),
                Field::new("step", arrow_schema::DataType::Int64, true),
                Field::new("op", arrow_schema::DataType::Utf8, false),
            ]));
            let columns: Vec<ArrayRef> =
                vec![Arc::new(layout.take.clone()), Arc::new(layout.step.clone()), Arc::new(layout.op.clone())];
            let order = RecordBatch::try_new(schema, columns)
                .map_err(|e| PyRuntimeError::new_err(format!("the plan's layout: {e}")))?;
            out.set_item("order", Bound::new(py, arrow_table(order))?)?;
            out.set_item("own", Bound::new(py, arrow_table(layout.own.clone()))?)?;
            out.set_item("effects", Bound::new(py, arrow_table(s.effects))?)?;
            out.set_item("dropped", s.dropped)?;
            let notes = PyList::empty(py);
            for note in s.notes {
                match note {
                    Note::Cycle { fdn, count } => notes.append(("cycle", fdn, count))?,
                    Note::NoLock { fdn, attributes } => notes.append(("no_lock", fdn, attributes))?,
                    Note::Cascade { fdn, attribute } => notes.append(("cascade", fdn, attribute))?,
                }
            }
            out.set_item("notes", notes)?;
        }
    }
    Ok(out)
}

/// The creates of `fdns` in the planner's order given the moRef values written to them
/// (`references`: `fdn`, `attribute`, `value`, in ChangeSet order): `(order, deferred, [])`,
/// `deferred` the (fdn, attribute) references set after the creates to break cycles; or
/// `([], [], cycle)`, the MOs (the first six) of a cycle through mandatory references.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn create_order(
    py: Python<'_>,
    fdns: Vec<String>,
    references: Vec<(String, String, String)>,
    catalog: &Bound<'_, PyPlanningCatalog>,
) -> PyResult<(Vec<String>, Vec<(String, String)>, Vec<String>)> {
    let catalog = &catalog.get().inner;
    let found = py.detach(|| match crate::enm::planner::creates_in_order(&fdns, &references, catalog) {
        Ok((order, deferred)) => (
            order.into_iter().map(str::to_owned).collect(),
            deferred.into_iter().map(|(f, a)| (f.to_owned(), a.to_owned())).collect(),
            Vec::new(),
        ),
        Err(cycle) => (Vec::new(), Vec::new(), cycle),
    });
    Ok(found)
}

/// The rollback of a Plan (rows in step order) on the network it was made from: its steps,
/// and the attributes whose value before is unknown (`fdn`, `class`, `attribute`, `step`,
/// `source`).
#[pyfunction]
fn rollback_steps(
    py: Python<'_>,
    plan: PyTable,
    network: &Bound<'_, PyNetworkView>,
    catalog: &Bound<'_, PyPlanningCatalog>,
) -> PyResult<(ArrowTable, ArrowTable)> {
    let plan = one_table(py, plan, "plan")?;
    let (net, cat) = (&network.get().inner, &catalog.get().inner);
    let r = py.detach(|| crate::enm::rollback::rollback(&plan, net, cat)).map_err(|e| to_py_err(py, e))?;
    Ok((arrow_table(r.steps), arrow_table(r.unknown)))
}

/// The origin of each row of a Plan's `steps` in the ChangeSet `changes` (with `seq` and
/// `row`): a table of `seq` and `row`, null for the planner's own rows (see
/// `crate::enm::origins`).
#[pyfunction]
fn plan_origins(py: Python<'_>, steps: PyTable, changes: PyTable) -> PyResult<ArrowTable> {
    let steps = one_table(py, steps, "plan")?;
    let changes = one_table(py, changes, "changes")?;
    let out = py.detach(|| crate::enm::origins::origins(&steps, &changes)).map_err(|e| to_py_err(py, e))?;
    Ok(arrow_table(out))
}

/// The violations of `rules` of `severity` that the values of `rows` (`fdn`, `class`,
/// `attribute`, `member`, `index`, `value`) break, judged by the catalog's constraints on up
/// to `threads` threads (0: one per core), with the GIL released.
#[pyfunction]
#[pyo3(signature = (rows, catalog, rules, severity, threads=0))]
fn value_violations(
    py: Python<'_>,
    rows: PyTable,
    catalog: &Bound<'_, PyPlanningCatalog>,
    rules: Vec<String>,
    severity: &str,
    threads: usize,
) -> PyResult<ArrowTable> {
    let rows = one_table(py, rows, "rows")?;
    let cat = &catalog.get().inner;
    let rules: rustc_hash::FxHashSet<String> = rules.into_iter().collect();
    let out = py
        .detach(|| crate::enm::judge::value_violations(&rows, cat, &rules, severity, threads))
        .map_err(|e| to_py_err(py, e))?;
    Ok(arrow_table(out))
}

/// The rows of a run of set steps (`fdn`, `attribute`) checked on a network (its MOs in
/// `removed` gone) and the MOs created since (`created`: fdn → class): `class` (null where
/// the MO does not exist) and `problems` (bits: 1 missing, 2 unknown attribute, 4 read-only,
/// 8 restricted, 16 changed only while locked).
#[pyfunction]
fn check_sets(
    py: Python<'_>,
    part: PyTable,
    network: &Bound<'_, PyNetworkView>,
    catalog: &Bound<'_, PyPlanningCatalog>,
    removed: Vec<String>,
    created: std::collections::HashMap<String, String>,
) -> PyResult<ArrowTable> {
    let part = one_table(py, part, "plan")?;
    let (net, cat) = (&network.get().inner, &catalog.get().inner);
    let removed: rustc_hash::FxHashSet<String> = removed.into_iter().collect();
    let created: rustc_hash::FxHashMap<String, String> = created.into_iter().collect();
    let out = py
        .detach(|| crate::enm::simulate::check_sets(&part, net, cat, &removed, &created))
        .map_err(|e| to_py_err(py, e))?;
    Ok(arrow_table(out))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<ArrowTable>()?;
    m.add_class::<PyProgress>()?;
    m.add_class::<PyNetworkParts>()?;
    m.add_class::<TemplateTexts>()?;
    m.add_class::<CompiledConstraints>()?;
    m.add_class::<XlsxWorkbook>()?;
    m.add_function(wrap_pyfunction!(read_mom, m)?)?;
    m.add_function(wrap_pyfunction!(read_bulkcm, m)?)?;
    m.add_function(wrap_pyfunction!(detect_kind, m)?)?;
    m.add_function(wrap_pyfunction!(list_inputs, m)?)?;
    m.add_function(wrap_pyfunction!(input_info, m)?)?;
    m.add_function(wrap_pyfunction!(stream_bulkcm, m)?)?;
    m.add_function(wrap_pyfunction!(bulkcm_chunks, m)?)?;
    m.add_function(wrap_pyfunction!(read_bulkcm_chunk, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_constraints, m)?)?;
    m.add_function(wrap_pyfunction!(compile_user_rules, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_user_rules, m)?)?;
    m.add_function(wrap_pyfunction!(read_templates, m)?)?;
    m.add_function(wrap_pyfunction!(locate_pointers, m)?)?;
    m.add_function(wrap_pyfunction!(read_typed_document, m)?)?;
    m.add_function(wrap_pyfunction!(duplicate_keys, m)?)?;
    m.add_function(wrap_pyfunction!(locate_many, m)?)?;
    m.add_function(wrap_pyfunction!(locate_document_pointers, m)?)?;
    m.add_function(wrap_pyfunction!(parse_template_key, m)?)?;
    m.add_function(wrap_pyfunction!(cmedit_lines, m)?)?;
    m.add_function(wrap_pyfunction!(network_xml, m)?)?;
    m.add_function(wrap_pyfunction!(network_xml_spans, m)?)?;
    m.add_function(wrap_pyfunction!(node_keys, m)?)?;
    m.add_function(wrap_pyfunction!(step_texts, m)?)?;
    m.add_function(wrap_pyfunction!(refused_names, m)?)?;
    m.add_class::<PyNetworkView>()?;
    m.add_class::<PyPlanningCatalog>()?;
    m.add_function(wrap_pyfunction!(last_writes, m)?)?;
    m.add_function(wrap_pyfunction!(create_order, m)?)?;
    m.add_function(wrap_pyfunction!(plan_steps, m)?)?;
    m.add_function(wrap_pyfunction!(rollback_steps, m)?)?;
    m.add_function(wrap_pyfunction!(plan_origins, m)?)?;
    m.add_function(wrap_pyfunction!(check_sets, m)?)?;
    m.add_function(wrap_pyfunction!(value_violations, m)?)?;
    Ok(())
}
