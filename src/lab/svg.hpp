#pragma once
// The lab report's pieces: number formatting, HTML escaping and the self-contained SVG charts (bars, lines,
// lanes of states). Every mark that carries data has class "mark", so a test can check that each chart drew.

#include <string>

#include "spindle/lab/demo.hpp"

namespace spindle::lab::detail {

/// A figure as the tables print it ("-" when not finite).
std::string fixed(double v, int width = 0);
/// HTML text and attribute values.
std::string html_escape(const std::string& s);
/// A chart as inline SVG inside <figure class="chart">, with its title as caption; empty if it has no data.
std::string svg_figure(const Chart& c);

}  // namespace spindle::lab::detail
