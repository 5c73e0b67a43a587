#pragma once
/// How `write_as_text` treats an existing file.

namespace weir {

enum class WriteMode { no_overwrite, overwrite };

}  // namespace weir
