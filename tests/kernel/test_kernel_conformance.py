"""The kernel against jupyter_kernel_test: every test it has, over real ZeroMQ."""

from __future__ import annotations

import unittest

import jupyter_kernel_test
from jupyter_kernel_test import msgspec_v5

# jupyter_kernel_test's schema lacks comm messages; widgets send them.
for _name in ("comm_open", "comm_msg", "comm_close"):
    msgspec_v5.schema_fragments.setdefault(
        _name, {"properties": {"comm_id": {"type": "string"}}, "required": ["comm_id"]}
    )


class SkynetKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "skynet"
    language_name = "lua"
    file_extension = ".lua"

    code_hello_world = 'print("hello, world")'
    code_stderr = 'io.stderr:write("to stderr\\n")'
    completion_samples = [
        {"text": "requ", "matches": {"require"}},
        {"text": "string.for", "matches": {"format"}},
    ]
    complete_code_samples = ["x = 1", "return 1", "%services", "function f() end"]
    incomplete_code_samples = ["function f()", "if x then", "local t = {"]
    invalid_code_samples = ["end", "x = = 1"]
    code_page_something = "print?"
    code_generate_error = 'error("boom")'
    code_execute_result = [
        {"code": "return 1 + 1", "result": "2"},
        {"code": "6 * 7", "result": "42"},
        {"code": 'return "a", nil, 3', "result": '"a"\tnil\t3'},
    ]
    code_display_data = [
        {"code": "%%python\ndisplay('shown')", "mime": "text/plain"},
        {"code": 'display.html("<b>shown</b>")', "mime": "text/html"},
        {"code": 'display.markdown("*shown*")', "mime": "text/markdown"},
        {"code": "display.json({a = 1})", "mime": "application/json"},
    ]
    code_history_pattern = "6 ?*"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "print"
    code_clear_output = "%%python\nclear_output()"


if __name__ == "__main__":
    unittest.main()
