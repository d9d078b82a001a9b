#include "common.hpp"

#include "polar_express/solver/catalogue.hpp"
#include "polar_express/solver/schedule_io.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace polar_express::cli {
namespace {

std::string temporary_name(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

void write_whole(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) {
    const std::string reason = std::strerror(errno);
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    throw UsageError("cannot write '" + path + "': " + reason);
  }
}

}  // namespace

void write_output(const std::string& path, const std::string& content) {
  if (path.empty()) {
    std::cout << content << std::flush;
    return;
  }
  write_files(std::filesystem::path(path).parent_path().string(),
              {{std::filesystem::path(path).filename().string(), content}});
}

void write_files(const std::string& directory, const std::vector<OutputFile>& files) {
  namespace fs = std::filesystem;
  const fs::path dir = directory.empty() ? fs::path(".") : fs::path(directory);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw UsageError("output directory '" + dir.string() + "' does not exist");
  std::vector<std::pair<std::string, std::string>> staged;  // temporary -> final
  try {
    for (const OutputFile& file : files) {
      const std::string target = (dir / file.name).string();
      const std::string temporary = temporary_name(target);
      write_whole(temporary, file.content);
      staged.emplace_back(temporary, target);
    }
  } catch (...) {
    for (const auto& [temporary, target] : staged) fs::remove(temporary, ec);
    throw;
  }
  for (const auto& [temporary, target] : staged) {
    fs::rename(temporary, target, ec);
    if (ec) {
      for (const auto& [t, unused] : staged) fs::remove(t, ec);
      throw UsageError("cannot write '" + target + "': " + ec.message());
    }
  }
}

std::vector<int> parse_degree_list(const std::string& text) {
  std::vector<int> degrees;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    std::size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) throw UsageError("degree '" + item + "' is not an integer");
    if (value < 3 || value % 2 == 0 || value > 255) {
      throw UsageError("degree " + item + " is not an odd integer in [3, 255]");
    }
    degrees.push_back(value);
  }
  if (degrees.empty()) throw UsageError("--degree '" + text + "' names no degree");
  return degrees;
}

Real parse_number(const std::string& flag, const std::string& text, unsigned bits) {
  try {
    return parse_real(text, bits);
  } catch (const std::invalid_argument&) {
    throw UsageError(flag + " '" + text + "' is not a number");
  }
}

void check_precision(unsigned bits) {
  if (bits < kMinPrecisionBits || bits > kMaxPrecisionBits) {
    throw UsageError("--precision " + std::to_string(bits) + " is outside [" + std::to_string(kMinPrecisionBits) +
                     ", " + std::to_string(kMaxPrecisionBits) + "] bits (below 64 bits the certificate means little)");
  }
}

void add_schedule_choice(CLI::App& app, ScheduleChoice& choice) {
  app.add_option("schedule", choice.file, "Schedule file: this tool's JSON or a published-list object");
  app.add_option("--builtin", choice.builtin, "A published schedule compiled into the tool, e.g. polar-express-paper-d5");
}

void check_schedule_choice(const ScheduleChoice& choice) {
  if (choice.file.empty() == choice.builtin.empty()) {
    throw UsageError("give exactly one of SCHEDULE.json and --builtin NAME");
  }
}

Schedule load_schedule(const ScheduleChoice& choice, unsigned bits) {
  check_schedule_choice(choice);
  return choice.builtin.empty() ? read_schedule_file(choice.file, bits) : builtin_schedule(choice.builtin, bits);
}

}  // namespace polar_express::cli
