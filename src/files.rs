// The small file-system trait under a file store (file_store.rs), and its in-memory backend.
// A file log keeps its bytes in files named by "/"-separated relative paths (at most one
// directory deep: "<topic>-<partition>/<base offset>.log", "manifest", "checkpoint"), so a
// backend can be std::fs, node:fs through a host object, or a map in memory.
//
// The in-memory backend doubles as the crash simulator of the tests: it keeps, per file, the
// bytes written (`live`) and the bytes made durable by `sync` (`durable`), and can build the
// image a power cut would leave, with or without a torn unsynced tail. It can also fail every
// operation after a countdown, to test that I/O errors never lose acknowledged data.

use std::cell::RefCell;
use std::rc::Rc;

use crate::error::{Error, ErrorKind, Quoted, Result};
use crate::sorted_map::SortedMap;

/// The operations the log needs from a file system. Paths are relative, "/"-separated, and
/// already validated by the caller (no "..", no absolute paths).
pub trait Files {
    /// Opens the file, creating it (and its directory) when missing; returns its length.
    fn open(&mut self, path: &str) -> Result<u64>;
    /// Appends `data` at the end of the file. On error, a prefix of `data` may have been written.
    fn append(&mut self, path: &str, data: &[u8]) -> Result<()>;
    /// Reads into `buf` from `position`; returns the bytes read, fewer only at the end of file.
    fn read_at(&mut self, path: &str, position: u64, buf: &mut [u8]) -> Result<usize>;
    /// Cuts the file to `length` bytes (never grows it).
    fn truncate(&mut self, path: &str, length: u64) -> Result<()>;
    /// Makes everything written to the file so far durable (fsync).
    fn sync(&mut self, path: &str) -> Result<()>;
    /// Starts making everything written so far to the files of `groups` durable, in the
    /// background: a group's files at once, the groups one after another. The bindings learn
    /// how it ended and report it to the log (`Log::flush_completed`). false: this host
    /// cannot, and the caller syncs the files itself.
    fn start_sync(&mut self, _groups: &[Vec<String>]) -> Result<bool> {
        Ok(false)
    }
    /// Names of the entries of a directory ("" is the root), sorted; a missing directory is empty.
    fn list(&mut self, directory: &str) -> Result<Vec<String>>;
    /// Atomically and durably replaces `to` with `from` (rename, then sync the directory).
    fn rename(&mut self, from: &str, to: &str) -> Result<()>;
    /// Removes a file, or an empty directory; removing something missing is not an error.
    fn remove(&mut self, path: &str) -> Result<()>;
    /// Takes the exclusive right to write this store, or fails with `LOG_LOCKED` while another
    /// open log (in this process or a live other one) holds it. A holder that died releases it.
    fn lock(&mut self) -> Result<()>;
    /// Gives the lock back (on close).
    fn unlock(&mut self);
}

/// Media assumptions the crash simulator enforces: appended bytes are durable only after
/// `sync`; an unsynced tail may survive a crash in part (torn) or not at all; `rename` and
/// `remove` are atomic and durable when they return; `truncate` is durable at the next sync
/// (until then the crash image keeps whichever is shorter of durable and live contents).
#[derive(Clone, Debug, Default)]
struct MemoryFile {
    live: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Debug, Default)]
struct MemoryFilesState {
    files: SortedMap<String, MemoryFile>,
    /// Track `durable` images only when a test asks for crash simulation.
    track_durability: bool,
    locked: bool,
    /// Fail every operation once this many more have succeeded.
    operations_left: Option<u64>,
    /// Fail appends that would make the store larger than this (QUOTA_EXCEEDED).
    bytes_max: Option<u64>,
}

/// Files in memory. Clones share the same files, like two handles to one disk.
#[derive(Clone, Debug, Default)]
pub struct MemoryFiles {
    state: Rc<RefCell<MemoryFilesState>>,
}

impl MemoryFiles {
    pub fn new() -> MemoryFiles {
        MemoryFiles::default()
    }

    /// A store that also keeps what is durable, for `crash_image`.
    pub fn with_crash_simulation() -> MemoryFiles {
        let storage = MemoryFiles::default();
        storage.state.borrow_mut().track_durability = true;
        storage
    }

    /// Every operation after the next `count` fails with IO_ERROR.
    pub fn fail_after(&self, count: u64) {
        self.state.borrow_mut().operations_left = Some(count);
    }

    /// Stop failing.
    pub fn heal(&self) {
        self.state.borrow_mut().operations_left = None;
    }

    /// Appends that would grow the store past `bytes` fail with QUOTA_EXCEEDED.
    pub fn set_quota(&self, bytes: Option<u64>) {
        self.state.borrow_mut().bytes_max = bytes;
    }

    /// The store a crash would leave now: durable bytes, plus for each file the first
    /// `torn(path, unsynced_len)` bytes of its unsynced tail. No lock is held in it.
    pub fn crash_image(&self, mut torn: impl FnMut(&str, usize) -> usize) -> MemoryFiles {
        let state = self.state.borrow();
        let mut files = SortedMap::new();
        for (path, file) in &state.files {
            let mut bytes = if file.live.starts_with(&file.durable) {
                let unsynced = &file.live[file.durable.len()..];
                let kept = torn(path, unsynced.len()).min(unsynced.len());
                let mut bytes = file.durable.clone();
                bytes.extend_from_slice(&unsynced[..kept]);
                bytes
            } else {
                // Rewritten since the last sync (a truncate, then appends): keep the common prefix.
                let common = file
                    .live
                    .iter()
                    .zip(&file.durable)
                    .take_while(|(a, b)| a == b)
                    .count();
                file.live[..common].to_vec()
            };
            bytes.shrink_to_fit();
            files.insert(
                path.clone(),
                MemoryFile {
                    live: bytes.clone(),
                    durable: bytes,
                },
            );
        }
        MemoryFiles {
            state: Rc::new(RefCell::new(MemoryFilesState {
                files,
                track_durability: true,
                ..MemoryFilesState::default()
            })),
        }
    }

    /// The current contents of a file (for tests that corrupt or inspect bytes).
    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        self.state.borrow().files.get(path).map(|f| f.live.clone())
    }

    /// A file's length, without copying it.
    pub fn len(&self, path: &str) -> Option<u64> {
        self.state
            .borrow()
            .files
            .get(path)
            .map(|f| f.live.len() as u64)
    }

    /// Replaces a file's contents, durably (for tests that corrupt bytes).
    pub fn set_file(&self, path: &str, bytes: Vec<u8>) {
        let mut state = self.state.borrow_mut();
        state.files.insert(
            path.to_owned(),
            MemoryFile {
                live: bytes.clone(),
                durable: bytes,
            },
        );
    }

    /// Paths of all files, sorted.
    pub fn paths(&self) -> Vec<String> {
        self.state.borrow().files.keys().cloned().collect()
    }

    /// Total bytes held.
    pub fn bytes_used(&self) -> u64 {
        self.state
            .borrow()
            .files
            .values()
            .map(|f| f.live.len() as u64)
            .sum()
    }

    fn begin(
        &self,
        operation: &str,
        path: &str,
    ) -> Result<std::cell::RefMut<'_, MemoryFilesState>> {
        let mut state = self.state.borrow_mut();
        if let Some(left) = state.operations_left.as_mut() {
            if *left == 0 {
                return Err(Error::io(operation, path, "injected failure"));
            }
            *left -= 1;
        }
        Ok(state)
    }
}

fn missing(operation: &str, path: &str) -> Error {
    Error::io(operation, path, "no such file")
}

impl Files for MemoryFiles {
    fn open(&mut self, path: &str) -> Result<u64> {
        let mut state = self.begin("open", path)?;
        Ok(state
            .files
            .get_or_insert_with(path.to_owned(), Default::default)
            .live
            .len() as u64)
    }

    fn append(&mut self, path: &str, data: &[u8]) -> Result<()> {
        let mut state = self.begin("append", path)?;
        if let Some(bytes_max) = state.bytes_max {
            let used: u64 = state.files.values().map(|f| f.live.len() as u64).sum();
            if used + data.len() as u64 > bytes_max {
                return Err(Error::new(
                    ErrorKind::QuotaExceeded,
                    format!(
                        "no room to write {} bytes to {path}",
                        data.len(),
                        path = Quoted(path)
                    ),
                ));
            }
        }
        let file = state
            .files
            .get_mut(path)
            .ok_or_else(|| missing("append", path))?;
        file.live.extend_from_slice(data);
        Ok(())
    }

    fn read_at(&mut self, path: &str, position: u64, buf: &mut [u8]) -> Result<usize> {
        let state = self.begin("read", path)?;
        let file = state.files.get(path).ok_or_else(|| missing("read", path))?;
        let start = usize::try_from(position)
            .unwrap_or(usize::MAX)
            .min(file.live.len());
        let count = buf.len().min(file.live.len() - start);
        buf[..count].copy_from_slice(&file.live[start..start + count]);
        Ok(count)
    }

    fn truncate(&mut self, path: &str, length: u64) -> Result<()> {
        let mut state = self.begin("truncate", path)?;
        let file = state
            .files
            .get_mut(path)
            .ok_or_else(|| missing("truncate", path))?;
        let length = usize::try_from(length).unwrap_or(usize::MAX);
        file.live.truncate(length);
        Ok(())
    }

    fn sync(&mut self, path: &str) -> Result<()> {
        let mut state = self.begin("sync", path)?;
        let track = state.track_durability;
        let file = state
            .files
            .get_mut(path)
            .ok_or_else(|| missing("sync", path))?;
        if track {
            file.durable.clone_from(&file.live);
        }
        Ok(())
    }

    fn list(&mut self, directory: &str) -> Result<Vec<String>> {
        let state = self.begin("list", directory)?;
        let prefix = if directory.is_empty() {
            String::new()
        } else {
            format!("{directory}/")
        };
        let mut names: Vec<String> = state
            .files
            .keys()
            .filter_map(|path| path.strip_prefix(&prefix))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_owned())
            .collect();
        names.dedup();
        Ok(names)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        let mut state = self.begin("rename", from)?;
        // A rename is durable when it returns; the file's unsynced bytes stay unsynced.
        let file = state
            .files
            .remove(from)
            .ok_or_else(|| missing("rename", from))?;
        state.files.insert(to.to_owned(), file);
        Ok(())
    }

    fn remove(&mut self, path: &str) -> Result<()> {
        let mut state = self.begin("remove", path)?;
        state.files.remove(path);
        Ok(())
    }

    fn lock(&mut self) -> Result<()> {
        let mut state = self.state.borrow_mut();
        if state.locked {
            return Err(Error::new(
                ErrorKind::LogLocked,
                "this in-memory store is already open; close the other log first",
            ));
        }
        state.locked = true;
        Ok(())
    }

    fn unlock(&mut self) {
        self.state.borrow_mut().locked = false;
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::FsFiles;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    // std::fs storage for native use and tests. Files stay open in a small cache, because
    // the log reads and appends the same few files over and over; the cache is bounded, so
    // that a log of many partitions or segments does not run out of descriptors.
    use std::collections::{HashMap, HashSet};
    use std::fs::{self, File, OpenOptions, TryLockError};
    use std::io::{Read, Seek, SeekFrom, Write};
    use std::path::{Path, PathBuf};

    use super::Files;
    use crate::error::{Error, ErrorKind, Quoted, Result};

    const LOCK_FILE: &str = "LOCK";
    /// Open files kept per store.
    const FILES_OPEN_MAX: usize = 64;

    pub struct FsFiles {
        root: PathBuf,
        /// Open files and when each was last used (a counter), for least-recently-used eviction.
        files: HashMap<String, (File, u64)>,
        uses: u64,
        /// Files written since their last sync: synced before they are closed, because after
        /// a failed writeback Linux reports the error only to descriptors open at the time.
        dirty: HashSet<String>,
        lock: Option<File>,
    }

    impl FsFiles {
        /// Files rooted at `root`, which is created if missing.
        pub fn new(root: impl AsRef<Path>) -> Result<FsFiles> {
            let root = root.as_ref().to_path_buf();
            fs::create_dir_all(&root)
                .map_err(|e| Error::io("create directory", &root.to_string_lossy(), e))?;
            Ok(FsFiles {
                root,
                files: HashMap::new(),
                uses: 0,
                dirty: HashSet::new(),
                lock: None,
            })
        }

        fn full(&self, path: &str) -> PathBuf {
            self.root.join(path)
        }

        fn file(&mut self, operation: &str, path: &str) -> Result<&mut File> {
            if !self.files.contains_key(path) {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(self.full(path))
                    .map_err(|e| Error::io(operation, path, e))?;
                self.remember(path, file)?;
            }
            self.uses += 1;
            let uses = self.uses;
            let (file, used) = self
                .files
                .get_mut(path)
                .ok_or_else(|| Error::io(operation, path, "not open"))?;
            *used = uses;
            Ok(file)
        }

        fn remember(&mut self, path: &str, file: File) -> Result<()> {
            if self.files.len() >= FILES_OPEN_MAX {
                let oldest = self
                    .files
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(path, _)| path.clone());
                if let Some(oldest) = oldest {
                    self.forget(&oldest)?;
                }
            }
            self.files.insert(path.to_owned(), (file, self.uses));
            Ok(())
        }

        /// Closes a file, syncing it first when it was written since its last sync.
        fn forget(&mut self, path: &str) -> Result<()> {
            if let Some((file, _)) = self.files.remove(path) {
                if self.dirty.remove(path) {
                    file.sync_data().map_err(|e| io_error("sync", path, e))?;
                }
            }
            Ok(())
        }

        fn sync_directory(&self, path: &str) -> Result<()> {
            let directory = self.full(path);
            let directory = directory.parent().unwrap_or(&self.root);
            // Directories cannot be fsynced on every platform; where they can, this makes a
            // rename or a new file's directory entry durable.
            if let Ok(handle) = File::open(directory) {
                let _ = handle.sync_all();
            }
            Ok(())
        }
    }

    fn io_error(operation: &str, path: &str, error: std::io::Error) -> Error {
        // ENOSPC / EDQUOT: the disk is full, which the caller can act on.
        if matches!(error.raw_os_error(), Some(28) | Some(122)) {
            return Error::new(
                ErrorKind::QuotaExceeded,
                format!(
                    "{operation} {path}: no space left ({error})",
                    path = Quoted(path)
                ),
            );
        }
        Error::io(operation, path, error)
    }

    impl Files for FsFiles {
        fn open(&mut self, path: &str) -> Result<u64> {
            if let Some((file, _)) = self.files.get(path) {
                return file
                    .metadata()
                    .map(|m| m.len())
                    .map_err(|e| io_error("open", path, e));
            }
            let full = self.full(path);
            if let Some(parent) = full.parent() {
                if !parent.exists() {
                    fs::create_dir_all(parent).map_err(|e| io_error("open", path, e))?;
                    // The new directory's own entry lives in the root: make it durable too.
                    if let Ok(root) = File::open(&self.root) {
                        let _ = root.sync_all();
                    }
                }
            }
            let existed = full.exists();
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&full)
                .map_err(|e| io_error("open", path, e))?;
            let length = file
                .metadata()
                .map(|m| m.len())
                .map_err(|e| io_error("open", path, e))?;
            self.remember(path, file)?;
            if !existed {
                self.sync_directory(path)?;
            }
            Ok(length)
        }

        fn append(&mut self, path: &str, data: &[u8]) -> Result<()> {
            self.dirty.insert(path.to_owned());
            let file = self.file("append", path)?;
            file.seek(SeekFrom::End(0))
                .map_err(|e| io_error("append", path, e))?;
            file.write_all(data)
                .map_err(|e| io_error("append", path, e))
        }

        fn read_at(&mut self, path: &str, position: u64, buf: &mut [u8]) -> Result<usize> {
            let file = self.file("read", path)?;
            file.seek(SeekFrom::Start(position))
                .map_err(|e| io_error("read", path, e))?;
            let mut filled = 0;
            while filled < buf.len() {
                match file.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(count) => filled += count,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io_error("read", path, e)),
                }
            }
            Ok(filled)
        }

        fn truncate(&mut self, path: &str, length: u64) -> Result<()> {
            self.dirty.insert(path.to_owned());
            let file = self.file("truncate", path)?;
            file.set_len(length)
                .map_err(|e| io_error("truncate", path, e))
        }

        fn sync(&mut self, path: &str) -> Result<()> {
            let file = self.file("sync", path)?;
            file.sync_data().map_err(|e| io_error("sync", path, e))?;
            self.dirty.remove(path);
            Ok(())
        }

        fn list(&mut self, directory: &str) -> Result<Vec<String>> {
            let full = self.full(directory);
            let entries = match fs::read_dir(&full) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(io_error("list", directory, e)),
            };
            let mut names = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|e| io_error("list", directory, e))?;
                // Names that are not UTF-8 were not written by brook: skip them.
                if let Ok(name) = entry.file_name().into_string() {
                    names.push(name);
                }
            }
            names.sort_unstable();
            Ok(names)
        }

        fn rename(&mut self, from: &str, to: &str) -> Result<()> {
            self.forget(from)?;
            self.forget(to)?;
            fs::rename(self.full(from), self.full(to)).map_err(|e| io_error("rename", from, e))?;
            self.sync_directory(to)
        }

        fn remove(&mut self, path: &str) -> Result<()> {
            self.files.remove(path);
            self.dirty.remove(path);
            let full = self.full(path);
            let result = if full.is_dir() {
                fs::remove_dir(&full)
            } else {
                fs::remove_file(&full)
            };
            match result {
                Ok(()) => self.sync_directory(path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_error("remove", path, e)),
            }
        }

        fn lock(&mut self) -> Result<()> {
            if self.lock.is_some() {
                return Ok(());
            }
            let path = self.full(LOCK_FILE);
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| io_error("lock", LOCK_FILE, e))?;
            // An advisory lock of the OS: released by the kernel when the holder dies, so a
            // crash never locks a user out. Separate opens conflict even within one process.
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    return Err(Error::new(
                        ErrorKind::LogLocked,
                        format!(
                            "{} is open in another log (holder: {}); close it first",
                            self.root.display(),
                            holder.trim()
                        ),
                    ));
                }
                Err(TryLockError::Error(e)) => return Err(io_error("lock", LOCK_FILE, e)),
            }
            // Name the holder, for the message a second opener sees.
            let _ = file.set_len(0);
            let _ = file.write_all(format!("pid {}\n", std::process::id()).as_bytes());
            self.lock = Some(file);
            Ok(())
        }

        fn unlock(&mut self) {
            if let Some(file) = self.lock.take() {
                let _ = file.unlock();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_image_keeps_durable_bytes_and_a_torn_tail() {
        let mut storage = MemoryFiles::with_crash_simulation();
        storage.open("a/x").unwrap();
        storage.append("a/x", b"hello").unwrap();
        storage.sync("a/x").unwrap();
        storage.append("a/x", b" world").unwrap();
        assert_eq!(storage.crash_image(|_, _| 0).file("a/x").unwrap(), b"hello");
        assert_eq!(
            storage.crash_image(|_, n| n).file("a/x").unwrap(),
            b"hello world"
        );
        assert_eq!(
            storage.crash_image(|_, _| 3).file("a/x").unwrap(),
            b"hello wo"
        );
    }

    #[test]
    fn list_names_files_and_directories_once() {
        let mut storage = MemoryFiles::new();
        for path in ["manifest", "t-0/0.log", "t-0/0.index", "t-1/0.log"] {
            storage.open(path).unwrap();
        }
        assert_eq!(storage.list("").unwrap(), vec!["manifest", "t-0", "t-1"]);
        assert_eq!(storage.list("t-0").unwrap(), vec!["0.index", "0.log"]);
        assert!(storage.list("missing").unwrap().is_empty());
    }

    #[test]
    fn injected_failures_start_after_the_countdown() {
        let mut storage = MemoryFiles::new();
        storage.fail_after(1);
        storage.open("f").unwrap();
        assert_eq!(storage.append("f", b"x").unwrap_err().code(), "IO_ERROR");
        storage.heal();
        storage.append("f", b"x").unwrap();
    }

    #[test]
    fn a_second_lock_is_refused() {
        let mut first = MemoryFiles::new();
        let mut second = first.clone();
        first.lock().unwrap();
        assert_eq!(second.lock().unwrap_err().code(), "LOG_LOCKED");
        first.unlock();
        second.lock().unwrap();
    }

    #[test]
    fn fs_storage_keeps_few_files_open_and_loses_nothing_when_it_closes_one() {
        let directory = std::env::temp_dir().join(format!("brook-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        let mut storage = FsFiles::new(&directory).unwrap();
        for round in 0..2u8 {
            for index in 0..200 {
                let path = format!("p-{index}/0.log");
                storage.open(&path).unwrap();
                storage.append(&path, &[round, index as u8]).unwrap();
            }
        }
        for index in 0..200 {
            let path = format!("p-{index}/0.log");
            let mut bytes = [0u8; 4];
            assert_eq!(storage.read_at(&path, 0, &mut bytes).unwrap(), 4);
            assert_eq!(bytes, [0, index as u8, 1, index as u8]);
            storage.sync(&path).unwrap();
        }
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn fs_lock_conflicts_within_one_process_and_is_released_on_unlock() {
        let directory = std::env::temp_dir().join(format!("brook-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        let mut first = FsFiles::new(&directory).unwrap();
        let mut second = FsFiles::new(&directory).unwrap();
        first.lock().unwrap();
        let error = second.lock().unwrap_err();
        assert_eq!(error.code(), "LOG_LOCKED");
        assert!(error.message().contains("pid"), "{error}");
        first.unlock();
        second.lock().unwrap();
        second.unlock();
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
