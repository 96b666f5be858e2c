//! `log_flood`: floods stdout and stderr, to show that the host's log stays within the
//! invocation's budget, that a slow log does not hold the plugin up, and that the plugin's text
//! cannot drive the terminal the log is shown on.

use std::io::Write;

use dify_plugin::serde_json::Value;
use dify_plugin::{Error, Output, optional_param, param};

/// Size of the block written again and again.
const BLOCK: usize = 64 << 10;

/// What terminals and log viewers act on: a carriage return that rewrites the line, NUL, a
/// colour change, a window title (OSC ... BEL), DEL, a C1 CSI both as a character and as a lone
/// byte (invalid UTF-8), a right-to-left override, and a line separator.
const HOSTILE: &[u8] =
    b"\rOVERWRITTEN\0\x1b[31mred\x1b[0m\x1b]0;pwned\x07\x7f\xc2\x9b2J\x9b\xe2\x80\xae\xe2\x80\xa8";

/// Writes `bytes` bytes (three quarters to stderr, the rest to stdout) in short lines, lines
/// longer than the host's line limit, and, when `control` is true, lines full of control
/// characters; then emits one text message saying how much it wrote.
pub fn log_flood(parameters: &Value, output: &Output) -> Result<(), Error> {
    let total: u64 = param(parameters, "bytes")?;
    let control: bool = optional_param(parameters, "control")?.unwrap_or(false);
    let block = block(control);
    let mut written: u64 = 0;
    let mut stderr = std::io::stderr().lock();
    let mut stdout = std::io::stdout().lock();
    let mut n: u64 = 0;
    while written < total {
        let len = (total - written).min(BLOCK as u64) as usize;
        let chunk = &block[..len];
        let result = if n % 4 == 3 {
            stdout.write_all(chunk)
        } else {
            stderr.write_all(chunk)
        };
        result.map_err(|e| Error::tool_failed(format!("writing the flood failed: {e}")))?;
        written += len as u64;
        n += 1;
    }
    let _ = stdout.flush();
    output.text(format!("wrote {written} bytes"))
}

fn block(control: bool) -> Vec<u8> {
    let mut block = Vec::with_capacity(2 * BLOCK);
    let mut i = 0u32;
    while block.len() < BLOCK {
        match i % 4 {
            // A line twice as long as the host's line limit.
            0 => block.extend(std::iter::repeat_n(b'x', 16 << 10)),
            1 => block.extend_from_slice(format!("short line {i}").as_bytes()),
            2 if control => {
                for _ in 0..64 {
                    block.extend_from_slice(HOSTILE);
                }
            }
            _ => block.extend(std::iter::repeat_n(b'y', 200)),
        }
        block.push(b'\n');
        i += 1;
    }
    block.truncate(BLOCK);
    block
}
