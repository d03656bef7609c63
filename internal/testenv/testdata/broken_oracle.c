/* Deliberately not C: TestBrokenOracleFails checks that a C oracle that
   does not compile fails its test instead of skipping it. */
int main(void) { return this is not C; }
