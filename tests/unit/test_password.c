/* Password quality (NIST SP 800-63B): length, repetition, the login, and
 * cracklib's dictionary of common words and passwords, also under digits,
 * symbols and look-alike letters. */
#include <string.h>

#include "check.h"
#include "common/err.h"
#include "crypto/password.h"

static int ok(const char *pw, const char *login)
{
	char why[PASSWORD_WHY_MAX];

	why[0] = '\0';
	if (password_quality(pw, login, why, sizeof(why)) == CC_OK)
		return 1;
	/* A reason is given, and it never quotes the password. */
	CHECK(why[0] != '\0');
	CHECK(strstr(why, pw) == NULL);
	return 0;
}

static void test_refused(void)
{
	static const char *const weak[] = {
		"aaaaaaaaaaaa", "password1234", "            ", "short1!", "abcabcabcabc", "abcdefabcdef",
		"P@ssw0rd2024", "Password1234!", "123456789012", "qwertyuiop12", "iloveyou1234", "welcome12345",
		"!!letmein!!2024", "zzzzzzzzzzzzab1", "coffeecloud-2024", "Espresso-2023!!", NULL,
	};
	char big[PASSWORD_MAX_LEN + 2];
	int i;

	for (i = 0; weak[i] != NULL; i++) {
		int accepted = ok(weak[i], "someone");

		CHECK(!accepted);
		if (accepted)
			fprintf(stderr, "  accepted: '%s'\n", weak[i]);
	}
	/* The login inside, in any case. */
	CHECK(!ok("Barista-ALICE-7781", "alice"));
	CHECK(!ok("zq-tech-a-kettle-42", "tech-a"));
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (i = 0; i < (int)sizeof(big) - 1; i++)
		big[i] = (char)('a' + i % 26);
	CHECK(!ok(big, NULL));
}

static void test_accepted(void)
{
	static const char *const strong[] = {
		"correct horse battery staple", "Ristretto-Lungo-4711", "xK9#mQ2v$Lp7wR", "zebra lamp cloud 42",
		"Correct-Horse-Battery-Staple-42", "a long enough password", NULL,
	};
	int i;

	for (i = 0; strong[i] != NULL; i++) {
		int accepted = ok(strong[i], "someone");

		CHECK(accepted);
		if (!accepted)
			fprintf(stderr, "  refused: '%s'\n", strong[i]);
	}
	/* A short login is not looked for (it would refuse half the words). */
	CHECK(ok("Ristretto-Lungo-4711", "ri"));
}

static void test_generated_pass(void)
{
	char pw[24];
	int i;

	for (i = 0; i < 50; i++) {
		CHECK_EQ(password_generate(pw, sizeof(pw), 20), CC_OK);
		CHECK_EQ(strlen(pw), 20);
		CHECK(ok(pw, NULL));
	}
}

int main(void)
{
	RUN(test_refused);
	RUN(test_accepted);
	RUN(test_generated_pass);
	return check_summary();
}
