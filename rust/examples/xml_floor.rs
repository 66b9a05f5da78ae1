//! How fast the bare event loop runs over a file, with no handler work: the floor for readers.
use std::time::Instant;

use quick_xml::events::BytesStart;
use rtbfast::xml::{drive, Cx, Handler};

struct Count(u64);
impl Handler for Count {
    fn start(&mut self, _cx: &mut Cx, _name: &[u8], _e: &BytesStart) -> rtbfast::Result<bool> {
        self.0 += 1;
        Ok(false)
    }
    fn end(&mut self, _cx: &mut Cx, _name: &[u8], _text: &str) -> rtbfast::Result<()> {
        Ok(())
    }
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: xml_floor FILE.xml");
        std::process::exit(2);
    };
    let path = std::path::PathBuf::from(path);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64;
    let t = Instant::now();
    let mut h = Count(0);
    if let Err(e) = drive(&path, &mut h, None) {
        eprintln!("{e}");
        std::process::exit(2);
    }
    let dt = t.elapsed().as_secs_f64();
    println!("drive: {} elements, {:.3}s, {:.0} MB/s", h.0, dt, size / 1e6 / dt);
    let t = Instant::now();
    match rtbfast::mom::read_mom(&path, None) {
        Ok(r) => {
            let dt = t.elapsed().as_secs_f64();
            println!("read_mom: {} tables, {:.3}s, {:.0} MB/s", r.tables.len(), dt, size / 1e6 / dt);
        }
        Err(e) => println!("read_mom: {e}"),
    }
}
