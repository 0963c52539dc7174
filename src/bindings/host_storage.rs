// Storage through a host object that JS passes in (Node's entry point hands one backed by
// node:fs). The wasm module imports nothing runtime-specific; the host's methods mirror the
// `Files` trait one to one. Only in the Node build (feature "files"): the browser build leaves
// it and the file store out, 43 KiB of the .wasm a page downloads.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use crate::error::{Error, ErrorKind, Quoted, Result};
use crate::files::Files;
use crate::sorted_map::sort_unstable;

#[wasm_bindgen]
extern "C" {
    /// The JS object behind a file-backed log (see js/node.js, `NodeFileStorage`).
    pub type HostStorage;

    #[wasm_bindgen(method, catch)]
    fn open(this: &HostStorage, path: &str) -> std::result::Result<f64, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn append(this: &HostStorage, path: &str, data: &[u8]) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = readAt)]
    fn read_at(
        this: &HostStorage,
        path: &str,
        position: f64,
        length: u32,
    ) -> std::result::Result<Uint8Array, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn truncate(this: &HostStorage, path: &str, length: f64) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn sync(this: &HostStorage, path: &str) -> std::result::Result<(), JsValue>;
    /// Optional: syncs groups of files in the background (see `Files::start_sync`), or
    /// returns undefined when it would rather not (too many files at once).
    #[wasm_bindgen(method, catch, js_name = syncInBackground)]
    fn sync_in_background(
        this: &HostStorage,
        groups: Vec<js_sys::Array>,
    ) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn list(this: &HostStorage, directory: &str) -> std::result::Result<Vec<String>, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn rename(this: &HostStorage, from: &str, to: &str) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn remove(this: &HostStorage, path: &str) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn lock(this: &HostStorage) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn unlock(this: &HostStorage) -> std::result::Result<(), JsValue>;
}

/// A host error as a core error: ENOSPC/EDQUOT mean a full disk, LOG_LOCKED a held lock.
fn from_host(operation: &str, path: &str, error: JsValue) -> Error {
    let code = js_sys::Reflect::get(&error, &JsValue::from_str("code"))
        .ok()
        .and_then(|c| c.as_string())
        .unwrap_or_default();
    let message = js_sys::Reflect::get(&error, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| crate::bindings::interop::describe(&error));
    match code.as_str() {
        "LOG_LOCKED" => Error::new(ErrorKind::LogLocked, message),
        "ENOSPC" | "EDQUOT" | "QUOTA_EXCEEDED" => Error::new(
            ErrorKind::QuotaExceeded,
            format!(
                "{operation} {path}: no space left ({message})",
                path = Quoted(path)
            ),
        ),
        _ => Error::io(operation, path, message),
    }
}

/// Where a sync started in the background leaves its promise, for the bindings to hand to JS
/// (`persist`).
pub type BackgroundSync = Rc<RefCell<Option<js_sys::Promise>>>;

pub struct JsHostStorage {
    host: HostStorage,
    /// Set when the host syncs in the background.
    background: Option<BackgroundSync>,
}

impl JsHostStorage {
    /// A store over `host`, and where its background syncs go, if the host has them.
    pub fn new(host: HostStorage) -> (JsHostStorage, Option<BackgroundSync>) {
        let background = js_sys::Reflect::has(&host, &JsValue::from_str("syncInBackground"))
            .unwrap_or(false)
            .then(BackgroundSync::default);
        let store = JsHostStorage {
            host,
            background: background.clone(),
        };
        (store, background)
    }
}

impl Files for JsHostStorage {
    fn open(&mut self, path: &str) -> Result<u64> {
        let length = self
            .host
            .open(path)
            .map_err(|e| from_host("open", path, e))?;
        if !(length >= 0.0 && length.fract() == 0.0) {
            return Err(Error::io("open", path, "the host reported a bad length"));
        }
        Ok(length as u64)
    }

    fn append(&mut self, path: &str, data: &[u8]) -> Result<()> {
        self.host
            .append(path, data)
            .map_err(|e| from_host("append", path, e))
    }

    fn read_at(&mut self, path: &str, position: u64, buf: &mut [u8]) -> Result<usize> {
        let bytes = self
            .host
            .read_at(path, position as f64, buf.len() as u32)
            .map_err(|e| from_host("read", path, e))?;
        let count = (bytes.length() as usize).min(buf.len());
        bytes.subarray(0, count as u32).copy_to(&mut buf[..count]);
        Ok(count)
    }

    fn truncate(&mut self, path: &str, length: u64) -> Result<()> {
        self.host
            .truncate(path, length as f64)
            .map_err(|e| from_host("truncate", path, e))
    }

    fn sync(&mut self, path: &str) -> Result<()> {
        self.host.sync(path).map_err(|e| from_host("sync", path, e))
    }

    fn start_sync(&mut self, groups: &[Vec<String>]) -> Result<bool> {
        let Some(background) = &self.background else {
            return Ok(false);
        };
        let groups = groups
            .iter()
            .map(|paths| paths.iter().map(|p| JsValue::from_str(p)).collect())
            .collect();
        let started = self
            .host
            .sync_in_background(groups)
            .map_err(|e| from_host("sync", "", e))?;
        if started.is_undefined() {
            return Ok(false);
        }
        background.replace(Some(started.unchecked_into()));
        Ok(true)
    }

    fn list(&mut self, directory: &str) -> Result<Vec<String>> {
        let mut names = self
            .host
            .list(directory)
            .map_err(|e| from_host("list", directory, e))?;
        sort_unstable(&mut names);
        Ok(names)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        self.host
            .rename(from, to)
            .map_err(|e| from_host("rename", from, e))
    }

    fn remove(&mut self, path: &str) -> Result<()> {
        self.host
            .remove(path)
            .map_err(|e| from_host("remove", path, e))
    }

    fn lock(&mut self) -> Result<()> {
        self.host.lock().map_err(|e| from_host("lock", "LOCK", e))
    }

    fn unlock(&mut self) {
        // Nothing to do about a failed unlock: the lock file names a pid that is gone later.
        let _ = self.host.unlock();
    }
}
