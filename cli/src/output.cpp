// Output files: what a command writes appears whole, or not at all.
//
//  * "-" (and no path) is standard output, written as a stream.
//  * A symbolic link is written through: its target is what gets written.
//  * A regular file (or a missing one) is replaced atomically: the content
//    goes to a temporary file in the same directory, which takes the old
//    file's mode (and, where allowed, its owner) and is renamed over it.
//    A file the user may not write is refused, as a shell redirection would.
//  * A character or block device, FIFO or socket is opened and written
//    directly (a temporary renamed over /dev/null would replace the device),
//    and so is whatever a descriptor link (/dev/stdout, /proc/self/fd/N)
//    names: an open file of the process, truncated and written in place.
//  * A directory is refused, naming it.
// Several files (emit, verify --plot) form one transaction: every content is
// staged first, then the files are renamed into place with the originals
// kept as hard links until all renames succeeded, so a failure restores
// every original and removes every new file and created directory.  The
// transaction's files are regular files only: a special file cannot be
// taken back.  SIGINT, SIGTERM and SIGHUP during the transaction undo it
// before the process ends with the signal (the handler uses only unlink,
// rename and rmdir, which are async-signal-safe).
#include "common.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

namespace polar_express::cli {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& path, int error) {
  throw UsageError("cannot write '" + path + "': " + std::strerror(error));
}

// ------------------------------------------------------------ undo on signals

// One undo action the signal handler may run.  Paths are owned by the
// Transaction and outlive their registration.
struct UndoEntry {
  enum Kind : int { kUnlink, kRestore, kRemoveDirectory };
  std::atomic<const char*> path{nullptr};    // unlink / rmdir this, or restore onto it
  std::atomic<const char*> backup{nullptr};  // kRestore: the original's hard link
  std::atomic<int> kind{kUnlink};
};

constexpr std::size_t kUndoSlots = 64;
std::array<UndoEntry, kUndoSlots> undo_log;
std::atomic<std::size_t> undo_count{0};
constexpr std::array<int, 3> kInterrupts{SIGINT, SIGTERM, SIGHUP};

extern "C" void undo_and_reraise(int signal_number) {
  const int saved = errno;
  // Newest first: files before the directories that hold them.
  for (std::size_t i = undo_count.load(); i-- > 0;) {
    const char* path = undo_log[i].path.load();
    if (path == nullptr) continue;
    switch (undo_log[i].kind.load()) {
      case UndoEntry::kUnlink: ::unlink(path); break;
      case UndoEntry::kRestore: {
        const char* backup = undo_log[i].backup.load();
        if (backup != nullptr) ::rename(backup, path);
        break;
      }
      case UndoEntry::kRemoveDirectory: ::rmdir(path); break;
    }
  }
  errno = saved;
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

void install_undo_handler() {
  static const bool installed = [] {
    struct sigaction action {};
    action.sa_handler = undo_and_reraise;
    sigemptyset(&action.sa_mask);
    for (int s : kInterrupts) sigaddset(&action.sa_mask, s);
    for (int s : kInterrupts) {
      struct sigaction previous {};
      // A signal the caller ignores (nohup) stays ignored.
      if (::sigaction(s, nullptr, &previous) == 0 && previous.sa_handler == SIG_IGN) continue;
      ::sigaction(s, &action, nullptr);
    }
    return true;
  }();
  (void)installed;
}

// Blocks the interrupt signals for its lifetime, so that the undo log is
// never read half-updated.
class InterruptsBlocked {
 public:
  InterruptsBlocked() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : kInterrupts) sigaddset(&set, s);
    ::sigprocmask(SIG_BLOCK, &set, &saved_);
  }
  ~InterruptsBlocked() { ::sigprocmask(SIG_SETMASK, &saved_, nullptr); }
  InterruptsBlocked(const InterruptsBlocked&) = delete;
  InterruptsBlocked& operator=(const InterruptsBlocked&) = delete;

 private:
  sigset_t saved_;
};

// ------------------------------------------------------------ paths

// Paths of the kernel's per-process descriptor links (/dev/stdout is one):
// what they name is an open file, written through the link, never replaced.
bool is_descriptor_link(const fs::path& path) {
  const std::string text = path.string();
  return text.rfind("/proc/", 0) == 0 || text.rfind("/dev/fd/", 0) == 0;
}

struct Resolved {
  std::string path;
  bool through_descriptor = false;
};

// `path` with every symbolic link in its last component followed (a link to
// a missing file gives the missing file: writing creates it).
Resolved resolve_links(const std::string& path) {
  fs::path current = path;
  for (int depth = 0; depth < 40; ++depth) {
    if (is_descriptor_link(current)) return {current.string(), true};
    struct stat info {};
    if (::lstat(current.c_str(), &info) != 0 || !S_ISLNK(info.st_mode)) return {current.string(), false};
    std::error_code ec;
    const fs::path target = fs::read_symlink(current, ec);
    if (ec) fail(path, ec.value());
    current = target.is_absolute() ? target : current.parent_path() / target;
  }
  fail(path, ELOOP);
}

std::string describe_special(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

void write_all(int fd, const std::string& content, const std::string& path) {
  const char* data = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t written = ::write(fd, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      fail(path, error);
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
}

// Devices, FIFOs, sockets and descriptor links: opened as they are (a
// regular file behind a descriptor link truncated first), never created or
// replaced.
void write_direct(const std::string& path, const std::string& content, bool truncate) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC | (truncate ? O_TRUNC : 0));
  if (fd < 0) fail(path, errno);
  write_all(fd, content, path);
  if (::close(fd) != 0) fail(path, errno);
}

void write_stdout(const std::string& content) {
  std::cout << content << std::flush;
  if (!std::cout) throw UsageError(std::string("cannot write to standard output: ") + std::strerror(errno));
}

// ------------------------------------------------------------ transaction

class Transaction {
 public:
  Transaction() { install_undo_handler(); }
  ~Transaction() { rollback(); }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // Creates `directory` and its missing parents, each undone on failure.
  void create_directories(const fs::path& directory) {
    std::vector<fs::path> missing;
    for (fs::path p = directory; !p.empty(); p = p.parent_path()) {
      struct stat info {};
      if (::stat(p.c_str(), &info) == 0) {
        if (!S_ISDIR(info.st_mode)) throw UsageError("cannot write into '" + p.string() + "': it is not a directory");
        break;
      }
      if (errno != ENOENT) fail(p.string(), errno);
      if (::lstat(p.c_str(), &info) == 0) {
        throw UsageError("cannot write into '" + p.string() + "': it is a symbolic link to a missing directory");
      }
      missing.push_back(p);
      if (p == p.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      Entry& entry = add(it->string(), UndoEntry::kRemoveDirectory);
      if (::mkdir(it->c_str(), 0777) != 0) {
        const int error = errno;
        forget(entry);
        fail(it->string(), error);
      }
    }
  }

  // Writes `content` to a temporary file beside `target` (a regular file or
  // nothing), with the target's mode and owner.
  void stage(const Resolved& resolved, const std::string& content) {
    const std::string& target = resolved.path;
    if (resolved.through_descriptor) {
      throw UsageError("cannot write '" + target + "': this command writes several files, all or none, which needs "
                       "regular files, not a descriptor link");
    }
    struct stat existing {};
    const bool exists = ::stat(target.c_str(), &existing) == 0;
    if (!exists && errno != ENOENT) fail(target, errno);
    if (exists && S_ISDIR(existing.st_mode)) throw UsageError("cannot write '" + target + "': it is a directory");
    if (exists && !S_ISREG(existing.st_mode)) {
      throw UsageError("cannot write '" + target + "': it is " + describe_special(existing.st_mode) +
                       ", and this command writes several files, all or none, which needs regular files");
    }
    if (exists && ::access(target.c_str(), W_OK) != 0) fail(target, errno);
    const fs::path where = fs::path(target).parent_path();
    const std::string stem = (where.empty() ? fs::path(".") : where).string() + "/." +
                             fs::path(target).filename().string() + ".polar-express-" + std::to_string(::getpid());
    int fd = -1;
    std::string temporary;
    for (int attempt = 0; fd < 0; ++attempt) {
      temporary = stem + "-" + std::to_string(next_suffix_++) + ".tmp";
      Entry& entry = add(temporary, UndoEntry::kUnlink);
      fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd < 0) {
        const int error = errno;
        forget(entry);
        if (error != EEXIST || attempt == 100) fail(target, error);
      }
    }
    if (exists) {
      // Owner first: chown may clear set-id bits that fchmod then restores.
      if (existing.st_uid != ::geteuid() || existing.st_gid != ::getegid()) {
        [[maybe_unused]] const int ignored = ::fchown(fd, existing.st_uid, existing.st_gid);
      }
      if (::fchmod(fd, existing.st_mode & 07777) != 0) {
        const int error = errno;
        ::close(fd);
        fail(target, error);
      }
    }
    write_all(fd, content, target);
    if (::close(fd) != 0) fail(target, errno);
    staged_.push_back({temporary, target, exists, {}});
  }

  // Renames every staged file into place, or restores every original.
  void commit() {
    InterruptsBlocked blocked;
    for (Staged& file : staged_) {
      if (file.replaces) {
        file.backup = file.temporary + ".orig";
        if (::link(file.target.c_str(), file.backup.c_str()) != 0) file.backup.clear();
      }
      Entry& entry = add(file.target, file.replaces ? UndoEntry::kRestore : UndoEntry::kUnlink,
                         file.backup.empty() ? nullptr : &file.backup);
      if (::rename(file.temporary.c_str(), file.target.c_str()) != 0) {
        const int error = errno;
        forget(entry);
        if (!file.backup.empty()) ::unlink(file.backup.c_str());
        fail(file.target, error);  // the destructor undoes the files before this one
      }
    }
    for (const Staged& file : staged_) {
      if (!file.backup.empty()) ::unlink(file.backup.c_str());
    }
    clear();
  }

 private:
  struct Entry {
    std::string path;
    std::string backup;
    UndoEntry* slot = nullptr;
    int kind = UndoEntry::kUnlink;
  };
  struct Staged {
    std::string temporary, target;
    bool replaces = false;
    std::string backup;  // the original's hard link while committing
  };

  Entry& add(const std::string& path, int kind, const std::string* backup = nullptr) {
    entries_.push_back(std::make_unique<Entry>());
    Entry& entry = *entries_.back();
    entry.path = path;
    entry.kind = kind;
    if (backup != nullptr) entry.backup = *backup;
    const std::size_t slot = undo_count.load();
    if (slot < kUndoSlots) {
      entry.slot = &undo_log[slot];
      entry.slot->kind.store(kind);
      entry.slot->backup.store(entry.backup.empty() ? nullptr : entry.backup.c_str());
      entry.slot->path.store(entry.path.c_str());
      undo_count.store(slot + 1);
    }
    return entry;
  }

  void forget(Entry& entry) {
    if (entry.slot != nullptr) entry.slot->path.store(nullptr);
    entry.path.clear();
  }

  // Undoes whatever is recorded, newest first, as the signal handler would.
  void rollback() {
    InterruptsBlocked blocked;
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
      const Entry& entry = **it;
      if (entry.path.empty()) continue;
      switch (entry.kind) {
        case UndoEntry::kUnlink: ::unlink(entry.path.c_str()); break;
        case UndoEntry::kRestore:
          if (!entry.backup.empty()) ::rename(entry.backup.c_str(), entry.path.c_str());
          break;
        case UndoEntry::kRemoveDirectory: ::rmdir(entry.path.c_str()); break;
      }
    }
    clear();
  }

  void clear() {
    InterruptsBlocked blocked;
    for (const auto& entry : entries_) {
      if (entry->slot != nullptr) entry->slot->path.store(nullptr);
    }
    undo_count.store(0);
    entries_.clear();
  }

  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<Staged> staged_;
  unsigned next_suffix_ = 0;
};

}  // namespace

bool is_standard_output(const std::string& path) { return path.empty() || path == "-"; }

void write_output(const std::string& path, const std::string& content) {
  if (is_standard_output(path)) return write_stdout(content);
  // stat() follows every link, the kernel's descriptor links included.
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) throw UsageError("cannot write '" + path + "': it is a directory");
    if (!S_ISREG(info.st_mode)) return write_direct(path, content, false);
  } else if (errno != ENOENT) {
    fail(path, errno);
  }
  const Resolved resolved = resolve_links(path);
  if (resolved.through_descriptor) return write_direct(path, content, true);
  const std::string& target = resolved.path;
  const fs::path parent = fs::path(target).parent_path();
  struct stat directory {};
  if (!parent.empty() && ::stat(parent.c_str(), &directory) != 0) fail(path, errno);
  Transaction transaction;
  transaction.stage(resolved, content);
  transaction.commit();
}

void write_files(const std::string& directory, const std::vector<OutputFile>& files) {
  const fs::path dir = directory.empty() ? fs::path(".") : fs::path(directory);
  Transaction transaction;
  transaction.create_directories(dir);
  for (const OutputFile& file : files) transaction.stage(resolve_links((dir / file.name).string()), file.content);
  transaction.commit();
}

}  // namespace polar_express::cli
