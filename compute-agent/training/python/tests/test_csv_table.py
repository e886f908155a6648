import csv
import io
import os

from uplet_training import csv_table
from uplet_training.csv_table import read_csv_table
from uplet_training.errors import BadInput

from tests.helpers import TempDirTest


class CsvDialectsTest(TempDirTest):
    def test_comma_semicolon_tab_are_sniffed(self):
        for delimiter in (",", ";", "\t"):
            path = self.write("d.csv", delimiter.join(["a", "b", "c"]) + "\n" + delimiter.join(["1", "x", "2.5"]) + "\n")
            table = read_csv_table(path)
            self.assertEqual(table.delimiter, delimiter)
            self.assertEqual(table.header, ["a", "b", "c"])
            self.assertEqual(table.rows, [["1", "x", "2.5"]])

    def test_bom_quotes_and_blank_lines(self):
        path = self.write("d.csv", b'\xef\xbb\xbfname,note\r\n"Smith, J","said ""hi"""\r\n\r\nDoe,ok\r\n', "wb")
        table = read_csv_table(path)
        self.assertEqual(table.header, ["name", "note"])
        self.assertEqual(table.rows, [["Smith, J", 'said "hi"'], ["Doe", "ok"]])

    def test_semicolon_file_with_decimal_commas_in_quotes(self):
        path = self.write("d.csv", 'a;b\n"1,5";2\n"3,5";4\n')
        self.assertEqual(read_csv_table(path).delimiter, ";")


class UnquotedFastPathTest(TempDirTest):
    """A text without quotes is split by lines and delimiter: the rows must be csv.reader's own."""

    TEXTS = [
        "a,b\n1,2\n", "a,b\n1,2", "a,b\r\n1,2\r\n\r\n3,4\r\n", "a;b\r1;2\r\r3;4", "a,b\n\n\n1,2\n\n",
        "a,b\n 1 , 2 \n,\n", "a,b\n1,2,3\n4\n", "\na,b\n1,2\n", "a\tb\n1\t\t2\n", "a,b\r\r\n1,2\n", "a,b\n  \n1,2\n",
    ]

    def test_rows_match_csv_reader(self):
        for text in self.TEXTS:
            for delimiter in (",", ";", "\t"):
                expected = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=False))
                self.assertEqual(list(csv_table._rows(text, delimiter)), expected, repr(text))


class CsvRefusalsTest(TempDirTest):
    def refused(self, content, code, **kwargs):
        path = self.write("bad.csv", content, "wb" if isinstance(content, bytes) else "w")
        with self.assertRaises(BadInput) as caught:
            read_csv_table(path, **kwargs)
        self.assertEqual(caught.exception.code, code)
        self.assertEqual(caught.exception.field, "dataset")
        return caught.exception.message

    def test_empty_and_blank_files(self):
        self.refused("", "empty_file")
        self.refused("\n  \n", "empty_file")

    def test_header_required(self):
        self.refused("1,2,3\n4,5,6\n", "no_header")
        self.refused("a,,c\n1,2,3\n", "no_header")
        self.refused("a,a\n1,2\n", "duplicate_column")

    def test_ragged_rows_name_the_row(self):
        message = self.refused("a,b,c\n1,2,3\n4,5\n", "ragged_rows")
        self.assertEqual(message, "row 3 has 2 fields, the header has 3")

    def test_binary_and_invalid_utf8(self):
        self.refused(b"a,b\n1,\x00\n", "binary_content")
        self.refused(b"a,b\n1,\xff\xfe\n", "invalid_encoding")

    def test_max_bytes(self):
        message = self.refused("a,b\n1,2\n", "file_too_large", max_bytes=4)
        self.assertIn("max_bytes 4", message)

    def test_cli_exit_2_with_error_json(self):
        path = self.write("bad.csv", "a,b\n1\n")
        code, out = self.run_command("profile", {"dataset": path})
        self.assertEqual(code, 2)
        self.assertEqual(self.read_json(out, "error.json")["error"]["code"], "ragged_rows")
        self.assertEqual(self.read_json(out, "error.json")["error"]["field"], "dataset")
        self.assertFalse(os.path.exists(os.path.join(out, "profile.json")))
