#include "common.hpp"

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

}  // namespace polar_express::cli
