//! The survey document reader (`synlab matrix FILE...`): any bytes read to
//! a survey document or an error. The input is up to two documents
//! separated by a NUL byte (never part of JSON text); the documents read
//! are merged into a matrix and diagnosed, as `synlab matrix a b` does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synlab::survey::matrix::{diagnose, Matrix};
use synlab::survey::SurveyDoc;

fuzz_target!(|data: &[u8]| {
    let docs: Vec<(String, SurveyDoc)> = data
        .splitn(2, |&b| b == 0)
        .enumerate()
        .filter_map(|(i, bytes)| {
            let text = std::str::from_utf8(bytes).ok()?;
            Some((format!("doc{i}"), SurveyDoc::from_json(text).ok()?))
        })
        .collect();
    let Ok(m) = Matrix::merge(&docs) else {
        return;
    };
    let d = diagnose(&m);
    let _ = d.has_failures();
    for (&(v, p), counts) in &m.cells {
        assert!(v < m.vantages.len() && p < m.profiles.len());
        let _ = (counts.interval(), counts.status(), counts.dominant());
    }
});
