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
  return v.timeUs > 0 ? Format("%.2f", v.mpiTimeUs / v.timeUs) : "n/a";
}

void PrintVariant(FILE* out, const ReportInfo& info, const VariantResult& v) {
  std::string wrong = info.check ? std::to_string(v.wrong) : "N/A";
  std::fprintf(out, "  %9s %7.2f %7.2f %6s", TimeText(v.timeUs).c_str(), v.algBw, v.busBw,
               wrong.c_str());
  if (!info.compareMpi) return;
  if (!v.hasMpi) {
    std::fprintf(out, " %9s %9s %6s", "n/a", "n/a", "n/a");
    return;
  }
  std::fprintf(out, " %9s %9.2f %6s", TimeText(v.mpiTimeUs).c_str(), v.mpiBusBw,
               RatioText(v).c_str());
}

void PrintVariantTitles(FILE* out, const ReportInfo& info, bool units) {
  if (units) {
    std::fprintf(out, "  %9s %7s %7s %6s", "(us)", "(GB/s)", "(GB/s)", "");
    if (info.compareMpi) std::fprintf(out, " %9s %9s %6s", "(us)", "(GB/s)", "(x)");
    return;
  }
  std::fprintf(out, "  %9s %7s %7s %6s", "time", "algbw", "busbw", "#wrong");
  if (info.compareMpi) std::fprintf(out, " %9s %9s %6s", "mpi_time", "mpi_busbw", "ratio");
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
               v.timeUs, v.algBw, v.busBw);
  if (info.check) std::fprintf(out, "\"wrong\": %zu, ", v.wrong);
  else std::fputs("\"wrong\": null, ", out);
  if (v.hasMpi)
    std::fprintf(out, "\"mpi_time_us\": %.3f, \"mpi_busbw\": %.6g, \"ratio\": %.6g}",
                 v.mpiTimeUs, v.mpiBusBw, v.timeUs > 0 ? v.mpiTimeUs / v.timeUs : 0.0);
  else
    std::fputs("\"mpi_time_us\": null, \"mpi_busbw\": null, \"ratio\": null}", out);
}

void JsonRow(FILE* out, const ReportInfo& info, const PerfRow& row) {
  std::fprintf(out, "    {\"size\": %zu, \"count\": %zu, ", row.bytes, row.count);
  JsonString(out, "type", info.isBarrier ? "none" : TypeName(row.type));
  std::fputs(", ", out);
  JsonString(out, "redop", info.usesOp ? OpName(row.op) : "none");
  std::fprintf(out, ", \"root\": %d, ", row.root);
  JsonString(out, "algorithm", row.algorithm);
  std::fputs(", ", out);
  JsonString(out, "transport", row.transport);
  std::fprintf(out, ", \"chunk_bytes\": %zu,\n     ", row.chunkBytes);
  JsonVariant(out, "out_of_place", info, row.outOfPlace);
  std::fputs(",\n     ", out);
  JsonVariant(out, "in_place", info, row.inPlace);
  std::fputs("}", out);
}

}  // namespace

void PrintTableHeader(FILE* out, const ReportInfo& info) {
  const char* pad = info.compareMpi ? "                           " : "   ";
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
               info.isBarrier ? "none" : TypeName(row.type), info.usesOp ? OpName(row.op) : "none",
               row.root);
  PrintVariant(out, info, row.outOfPlace);
  PrintVariant(out, info, row.inPlace);
  std::fprintf(out, "  %-22s %-9s %10zu\n", row.algorithm.c_str(), row.transport.c_str(),
               row.chunkBytes);
  std::fflush(out);
}

void PrintFooter(FILE* out, const ReportInfo& info, const std::vector<PerfRow>& rows) {
  size_t wrong = 0;
  double busBw = 0, mpiBusBw = 0;
  int mpiRows = 0;
  for (const PerfRow& row : rows) {
    wrong += row.outOfPlace.wrong + row.inPlace.wrong;
    busBw += (row.outOfPlace.busBw + row.inPlace.busBw) / 2;
    if (!row.outOfPlace.hasMpi) continue;
    mpiBusBw += (row.outOfPlace.mpiBusBw + row.inPlace.mpiBusBw) / 2;
    ++mpiRows;
  }
  std::fprintf(out, "# #wrong total         : %zu %s\n", wrong,
               !info.check ? "(not checked)" : wrong == 0 ? "OK" : "FAILED");
  std::fprintf(out, "# Avg bus bandwidth    : %.4g GB/s\n",
               rows.empty() ? 0.0 : busBw / static_cast<double>(rows.size()));
  if (mpiRows > 0) std::fprintf(out, "# Avg MPI bus bandwidth: %.4g GB/s\n", mpiBusBw / mpiRows);
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
               info.compareMpi ? "\"mpi\"" : "null", info.check ? "true" : "false");
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
