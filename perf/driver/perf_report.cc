// Table and JSON output of the *_perf binaries (see perf_report.h). Column layout follows
// nccl-tests; --compare mpi adds mpi_time, mpi_busbw and ratio (MPI time / ours) per half.
#include "perf_report.h"

#include <cerrno>
#include <cstring>

#include "perf_options.h"

namespace coll::perf {
namespace {

std::string Format(const char* fmt, double value) {
  char text[32];
  std::snprintf(text, sizeof text, fmt, value);
  return text;
}

std::string TimeText(double us) { return Format(us < 1e6 ? "%.2f" : "%.0f", us); }

std::string RatioText(const VariantResult& v) {
  return v.time_us > 0 ? Format("%.2f", v.mpi_time_us / v.time_us) : "n/a";
}

void PrintVariant(FILE* out, const ReportInfo& info, const VariantResult& v) {
  std::string wrong = info.check ? std::to_string(v.wrong) : "N/A";
  std::fprintf(out, "  %9s %7.2f %7.2f %6s", TimeText(v.time_us).c_str(), v.alg_bw, v.bus_bw,
               wrong.c_str());
  if (!info.compare_mpi) return;
  if (!v.has_mpi) {
    std::fprintf(out, " %9s %9s %6s", "n/a", "n/a", "n/a");
    return;
  }
  std::fprintf(out, " %9s %9.2f %6s", TimeText(v.mpi_time_us).c_str(), v.mpi_bus_bw,
               RatioText(v).c_str());
}

void PrintVariantTitles(FILE* out, const ReportInfo& info, bool units) {
  if (units) {
    std::fprintf(out, "  %9s %7s %7s %6s", "(us)", "(GB/s)", "(GB/s)", "");
    if (info.compare_mpi) std::fprintf(out, " %9s %9s %6s", "(us)", "(GB/s)", "(x)");
    return;
  }
  std::fprintf(out, "  %9s %7s %7s %6s", "time", "algbw", "busbw", "#wrong");
  if (info.compare_mpi) std::fprintf(out, " %9s %9s %6s", "mpi_time", "mpi_busbw", "ratio");
}

void JsonString(FILE* out, const char* key, const std::string& value) {
  std::fprintf(out, "\"%s\": \"", key);
  for (char c : value) {
    if (c == '"' || c == '\\') std::fputc('\\', out);
    if (static_cast<unsigned char>(c) >= 0x20) std::fputc(c, out);
  }
  std::fputs("\"", out);
}

void JsonVariant(FILE* out, const char* key, const ReportInfo& info, const VariantResult& v) {
  std::fprintf(out, "\"%s\": {\"time_us\": %.3f, \"algbw\": %.6g, \"busbw\": %.6g, ", key,
               v.time_us, v.alg_bw, v.bus_bw);
  if (info.check) std::fprintf(out, "\"wrong\": %zu, ", v.wrong);
  else std::fputs("\"wrong\": null, ", out);
  if (v.has_mpi)
    std::fprintf(out, "\"mpi_time_us\": %.3f, \"mpi_busbw\": %.6g, \"ratio\": %.6g}",
                 v.mpi_time_us, v.mpi_bus_bw, v.time_us > 0 ? v.mpi_time_us / v.time_us : 0.0);
  else
    std::fputs("\"mpi_time_us\": null, \"mpi_busbw\": null, \"ratio\": null}", out);
}

void JsonRow(FILE* out, const ReportInfo& info, const PerfRow& row) {
  std::fprintf(out, "    {\"size\": %zu, \"count\": %zu, ", row.bytes, row.count);
  JsonString(out, "type", info.is_barrier ? "none" : TypeName(row.type));
  std::fputs(", ", out);
  JsonString(out, "redop", info.uses_op ? OpName(row.op) : "none");
  std::fprintf(out, ", \"root\": %d, ", row.root);
  JsonString(out, "algorithm", row.algorithm);
  std::fputs(", ", out);
  JsonString(out, "transport", row.transport);
  std::fprintf(out, ", \"chunk_bytes\": %zu,\n     ", row.chunk_bytes);
  JsonVariant(out, "out_of_place", info, row.out_of_place);
  std::fputs(",\n     ", out);
  JsonVariant(out, "in_place", info, row.in_place);
  std::fputs("}", out);
}

}  // namespace

void PrintTableHeader(FILE* out, const ReportInfo& info) {
  const char* pad = info.compare_mpi ? "                           " : "   ";
  std::fprintf(out, "#\n# %54s %-20s%s%15s %-20s\n", "", "out-of-place", pad, "", "in-place");
  std::fprintf(out, "# %10s %12s %8s %6s %6s", "size", "count", "type", "redop", "root");
  PrintVariantTitles(out, info, false);
  PrintVariantTitles(out, info, false);
  std::fprintf(out, "  %-22s %-9s %10s\n", "algorithm", "transport", "chunk");
  std::fprintf(out, "# %10s %12s %8s %6s %6s", "(B)", "(elements)", "", "", "");
  PrintVariantTitles(out, info, true);
  PrintVariantTitles(out, info, true);
  std::fprintf(out, "  %-22s %-9s %10s\n", "", "", "(B)");
}

void PrintRow(FILE* out, const ReportInfo& info, const PerfRow& row) {
  std::fprintf(out, "  %10zu %12zu %8s %6s %6d", row.bytes, row.count,
               info.is_barrier ? "none" : TypeName(row.type), info.uses_op ? OpName(row.op) : "none",
               row.root);
  PrintVariant(out, info, row.out_of_place);
  PrintVariant(out, info, row.in_place);
  std::fprintf(out, "  %-22s %-9s %10zu\n", row.algorithm.c_str(), row.transport.c_str(),
               row.chunk_bytes);
  std::fflush(out);
}

void PrintFooter(FILE* out, const ReportInfo& info, const std::vector<PerfRow>& rows) {
  size_t wrong = 0;
  double bus_bw = 0, mpi_bus_bw = 0;
  int mpi_rows = 0;
  for (const PerfRow& row : rows) {
    wrong += row.out_of_place.wrong + row.in_place.wrong;
    bus_bw += (row.out_of_place.bus_bw + row.in_place.bus_bw) / 2;
    if (!row.out_of_place.has_mpi) continue;
    mpi_bus_bw += (row.out_of_place.mpi_bus_bw + row.in_place.mpi_bus_bw) / 2;
    ++mpi_rows;
  }
  std::fprintf(out, "# #wrong total         : %zu %s\n", wrong,
               !info.check ? "(not checked)" : wrong == 0 ? "OK" : "FAILED");
  std::fprintf(out, "# Avg bus bandwidth    : %.4g GB/s\n",
               rows.empty() ? 0.0 : bus_bw / static_cast<double>(rows.size()));
  if (mpi_rows > 0) std::fprintf(out, "# Avg MPI bus bandwidth: %.4g GB/s\n", mpi_bus_bw / mpi_rows);
  std::fputs("#\n", out);
}

bool WriteJson(const std::string& path, const ReportInfo& info, const std::vector<PerfRow>& rows,
               std::string* error) {
  FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) {
    *error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  std::fprintf(out, "{\"tool\": \"%s_perf\", \"nranks\": %d, \"hosts\": %d, ", info.collective,
               info.nranks, info.hosts);
  JsonString(out, "command", info.command);
  std::fprintf(out, ", \"compare\": %s, \"check\": %s,\n  \"rows\": [\n",
               info.compare_mpi ? "\"mpi\"" : "null", info.check ? "true" : "false");
  for (size_t i = 0; i < rows.size(); ++i) {
    JsonRow(out, info, rows[i]);
    std::fputs(i + 1 < rows.size() ? ",\n" : "\n", out);
  }
  std::fputs("  ]\n}\n", out);
  bool ok = std::fclose(out) == 0;
  if (!ok) *error = "cannot finish writing " + path;
  return ok;
}

}  // namespace coll::perf
