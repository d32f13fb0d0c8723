//! Writing a command's output: to a file, whole or not at all, or to a
//! buffered stdout.

use std::fs::File;
use std::io::{self, BufWriter, Write};

/// Run `write` against the output file or a buffered stdout.
pub(crate) fn write_output(
    path: Option<&std::path::Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> anyhow::Result<()> {
    // `-` is standard output here as everywhere on the command line.
    match path.filter(|p| p.as_os_str() != "-") {
        // A device, FIFO or socket (`-o /dev/null`, `-o >(cmd)`) is written
        // to, never renamed over: as root that would replace the device.
        Some(p) if std::fs::metadata(p).is_ok_and(|m| !m.is_file() && !m.is_dir()) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?;
            let mut out = BufWriter::new(file);
            write(&mut out)?;
            out.flush()?;
        }
        Some(p) => {
            // Written beside the target and renamed over it, so a reader
            // (or a run killed half-way) never sees half a report.
            let name = p
                .file_name()
                .ok_or_else(|| anyhow::anyhow!("cannot write {}: not a file name", p.display()))?;
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(".leakhound-{}.tmp", std::process::id()));
            let tmp = p.with_file_name(tmp_name);
            let file = File::create(&tmp)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?;
            let mut out = BufWriter::new(file);
            let written = write(&mut out).and_then(|()| out.flush());
            drop(out);
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            std::fs::rename(&tmp, p).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                anyhow::anyhow!("cannot write {}: {e}", p.display())
            })?;
        }
        None => {
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            write(&mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}
