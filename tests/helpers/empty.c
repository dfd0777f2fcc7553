/* Keeps the test helper library non-empty while helpers/ holds no sources. */
int test_helpers_empty_unit_marker(void);
int test_helpers_empty_unit_marker(void) { return 0; }
