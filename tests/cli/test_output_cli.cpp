// Where outputs go: regular files replaced atomically keeping their mode,
// symbolic links written through, FIFOs written directly, directories
// refused, "-" as standard output, several files all or none, and nothing
// left behind by a failure, a time limit or Ctrl-C.  Everything happens in a
// fresh temporary directory (never /dev/null or another system file).
#include "cli_runner.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>

using polar_express::test::CliResult;
using polar_express::test::line_count;
using polar_express::test::read_text;
using polar_express::test::run_cli;
using polar_express::test::TempDir;
using polar_express::test::write_text;

namespace {

namespace fs = std::filesystem;

const std::string kDesign = "design --lower 1e-3 --steps 2 --format json --output ";

void check_refused(const CliResult& r, const std::string& named) {
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(line_count(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains(named));
  CHECK_THAT(r.err, !Catch::Contains("Success"));
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

mode_t mode_of(const std::string& path) {
  struct stat info {};
  REQUIRE(::lstat(path.c_str(), &info) == 0);
  return info.st_mode;
}

bool is_schedule(const std::string& text) {
  return !text.empty() && nlohmann::json::parse(text)["schema"] == "polar-express/schedule/v1";
}

}  // namespace

TEST_CASE("a regular file is replaced whole and keeps its mode", "[cli][output]") {
  TempDir dir;
  const std::string file = dir.file("private.json");
  write_text(file, "old");
  ::chmod(file.c_str(), 0600);
  REQUIRE(run_cli(kDesign + file).exit_code == 0);
  CHECK((mode_of(file) & 07777) == 0600);
  CHECK(is_schedule(read_text(file)));
  CHECK(names_in(dir.path()) == std::vector<std::string>{"private.json"});  // no temporary left
}

TEST_CASE("a symbolic link is written through to its target", "[cli][output]") {
  TempDir dir;
  write_text(dir.file("target.json"), "old");
  fs::create_symlink("target.json", dir.file("link.json"));
  REQUIRE(run_cli(kDesign + dir.file("link.json")).exit_code == 0);
  CHECK(S_ISLNK(mode_of(dir.file("link.json"))));
  CHECK(is_schedule(read_text(dir.file("target.json"))));
  // A link to a file not there yet creates the file.
  fs::create_symlink("new.json", dir.file("dangling.json"));
  REQUIRE(run_cli(kDesign + dir.file("dangling.json")).exit_code == 0);
  CHECK(S_ISLNK(mode_of(dir.file("dangling.json"))));
  CHECK(is_schedule(read_text(dir.file("new.json"))));
}

TEST_CASE("a FIFO is written directly, not replaced", "[cli][output]") {
  TempDir dir;
  const std::string fifo = dir.file("pipe");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // The reader runs beside the writer; opening a FIFO waits for both ends.
  const std::string command = "cat " + fifo + " >" + dir.file("received") + " & " + POLAR_EXPRESS_CLI + " " +
                              kDesign + fifo + " 2>" + dir.file("err") + "; status=$?; wait; exit $status";
  const int status = std::system(command.c_str());
  INFO(read_text(dir.file("err")));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(S_ISFIFO(mode_of(fifo)));
  CHECK(is_schedule(read_text(dir.file("received"))));
}

TEST_CASE("'-' is standard output; a directory or an empty path is refused", "[cli][output]") {
  TempDir dir;
  const CliResult dash = run_cli(kDesign + "-");
  CHECK(dash.exit_code == 0);
  CHECK(is_schedule(dash.out));
  // A descriptor link names an open file of the process, here a pipe: it is
  // written through, not taken for a path to replace.
  const std::string piped = std::string(POLAR_EXPRESS_CLI) + " " + kDesign + "/dev/stdout 2>" + dir.file("err") +
                            " | cat >" + dir.file("received");
  CHECK(std::system(piped.c_str()) == 0);
  INFO(read_text(dir.file("err")));
  CHECK(is_schedule(read_text(dir.file("received"))));
  fs::remove(dir.file("err"));
  fs::remove(dir.file("received"));
  fs::create_directory(dir.file("taken"));
  check_refused(run_cli(kDesign + dir.file("taken")), dir.file("taken") + "': it is a directory");
  CHECK(fs::is_empty(dir.file("taken")));
  check_refused(run_cli(kDesign + "''"), "--output: the path is empty");
  check_refused(run_cli("emit --builtin muon-jordan-ns5 --target cpp --output ''"), "--output: the path is empty");
  check_refused(run_cli("emit --builtin muon-jordan-ns5 --target cpp --output -"), "writes files into a directory");
  check_refused(run_cli(kDesign + dir.file("missing/out.json")), "No such file or directory");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"taken"});
}

TEST_CASE("emit writes every file or none, naming the real reason", "[cli][output][emit]") {
  TempDir dir;
  const std::string out = dir.file("out");
  fs::create_directory(out);
  write_text(out + "/polar_express_paper_d5.cu", "keep");
  fs::create_directory(out + "/polar_express_paper_d5_cuda.hpp");  // the second name is taken
  check_refused(run_cli("emit --builtin polar-express-paper-d5 --target cuda --output " + out),
                "polar_express_paper_d5_cuda.hpp': it is a directory");
  CHECK(read_text(out + "/polar_express_paper_d5.cu") == "keep");
  CHECK(names_in(out) == std::vector<std::string>{"polar_express_paper_d5.cu", "polar_express_paper_d5_cuda.hpp"});

  // Missing directories are created, and removed again when the output fails.
  const CliResult created = run_cli("emit --builtin polar-express-paper-d5 --target cuda --output " +
                                    dir.file("new/deeper"));
  REQUIRE(created.exit_code == 0);
  CHECK(names_in(dir.file("new/deeper")) ==
        std::vector<std::string>{"polar_express_paper_d5.cu", "polar_express_paper_d5_cuda.hpp"});
  write_text(dir.file("file"), "");
  check_refused(run_cli("emit --builtin polar-express-paper-d5 --target cpp --output " + dir.file("file/sub")),
                "file/sub': Not a directory");
  fs::create_directories(dir.file("partial"));
  fs::create_directory(dir.file("partial/polar_express_paper_d5_cuda.hpp"));
  check_refused(run_cli("emit --builtin polar-express-paper-d5 --target cuda --output " + dir.file("partial")),
                "it is a directory");
  CHECK(names_in(dir.file("partial")) == std::vector<std::string>{"polar_express_paper_d5_cuda.hpp"});
}

TEST_CASE("verify --plot writes its three files or none", "[cli][output][plot]") {
  TempDir dir;
  fs::create_directory(dir.file("p.gp"));  // the script's name is taken
  const CliResult r = run_cli("verify --builtin newton-schulz-cubic --plot " + dir.file("p"));
  check_refused(r, "p.gp': it is a directory");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"p.gp"});
}

TEST_CASE("a time limit or a signal during a design leaves no output", "[cli][output][long]") {
  TempDir dir;
  const std::string file = dir.file("s.json");
  // Refused up front: degree 127 takes seconds a step (test_long_work.cpp
  // stops one that started).
  const CliResult refused = run_cli("design --degree 127 --lower 1e-3 --steps 3 --max-minutes 0.01 --output " + file);
  INFO(refused.err);
  CHECK(refused.exit_code == 2);
  CHECK_THAT(refused.err, Catch::Contains("is estimated at") && Catch::Contains("beyond --max-minutes 0.01"));
  CHECK(refused.out.empty());
  // Stopped by a signal after 0.5 s: SIGTERM, since a shell starts its
  // background jobs with SIGINT ignored (Ctrl-C takes the same path).
  const std::string command = "exec 2>/dev/null; " + std::string(POLAR_EXPRESS_CLI) +
                              " design --degree 127 --lower 1e-3 --steps 3 --output " + file +
                              " & pid=$!; sleep 0.5; kill -TERM $pid; wait $pid";
  const int status = std::system(command.c_str());
  CHECK(WEXITSTATUS(status) == 128 + SIGTERM);
  CHECK(fs::is_empty(dir.path()));
}
