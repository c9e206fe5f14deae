import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileRedactor, DEFAULT_SECRET_KEY_PATTERNS } from '../../../pipeline/redact.js';
import { classifyStatement, redactStatement, splitStatements, type StatementKind } from './statement.js';

const kind = (s: string) => classifyStatement(s).kind;

describe('classifyStatement', () => {
  const table: [string, StatementKind, Partial<ReturnType<typeof classifyStatement>>?][] = [
    ['SELECT 1', 'query'],
    ['  -- leading comment\n (SELECT * FROM t)', 'query'],
    ['WITH a AS (SELECT 1) SELECT * FROM a', 'query'],
    ['WITH a AS (SELECT 1) INSERT INTO s SELECT * FROM a', 'insert', { objectName: 's' }],
    ['VALUES (1), (2)', 'query'],
    ['INSERT INTO `cat`.`db`.`Orders` SELECT * FROM src', 'insert', { objectType: 'Table', objectName: 'cat.db.Orders', submitsJob: true }],
    ['insert overwrite sink select 1', 'insert', { objectName: 'sink' }],
    ['EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1; INSERT INTO b SELECT 2; END;', 'insert'],
    ['BEGIN STATEMENT SET;', 'insert'],
    ["EXECUTE PLAN '/tmp/plan.json'", 'insert'],
    ['CREATE TABLE t (id INT) WITH (\'connector\'=\'datagen\')', 'create', { objectType: 'Table', objectName: 't', sensitive: true }],
    ['CREATE TEMPORARY TABLE IF NOT EXISTS db.t (id INT)', 'create', { objectName: 'db.t' }],
    ['CREATE TABLE t2 WITH (\'connector\'=\'blackhole\') AS SELECT * FROM t', 'create-table-as', { submitsJob: true }],
    ['CREATE OR REPLACE TABLE t2 AS (SELECT * FROM t)', 'create-table-as'],
    ['REPLACE TABLE t2 AS SELECT 1', 'create-table-as'],
    ["CREATE CATALOG pg WITH ('type'='jdbc')", 'create-catalog', { objectType: 'Catalog', objectName: 'pg' }],
    ['CREATE MATERIALIZED TABLE mt FRESHNESS = INTERVAL \'1\' MINUTE AS SELECT 1', 'create', { objectType: 'MaterializedTable', objectName: 'mt' }],
    ['CREATE TEMPORARY SYSTEM FUNCTION f AS \'com.x.F\'', 'create', { objectType: 'Function', objectName: 'f' }],
    ['DROP TABLE IF EXISTS t', 'drop', { objectType: 'Table', objectName: 't' }],
    ['DROP CATALOG pg', 'drop', { objectType: 'Catalog' }],
    ['ALTER TABLE t SET (\'k\'=\'v\')', 'alter', { objectType: 'Table' }],
    ["SET 'parallelism.default' = '2'", 'set', { sensitive: true }],
    ['SET', 'set'],
    ["RESET 'parallelism.default'", 'reset'],
    ["ADD JAR '/opt/udf.jar'", 'add-jar', { jarPath: '/opt/udf.jar' }],
    ["REMOVE JAR '/opt/udf.jar'", 'remove-jar'],
    ['LOAD MODULE hive', 'module'],
    ['USE CATALOG pg', 'use', { sensitive: false }],
    ['SHOW TABLES', 'show', { sensitive: false }],
    ['DESCRIBE t', 'describe'],
    ['DESC t', 'describe'],
    ['EXPLAIN PLAN FOR SELECT 1', 'explain'],
    ["STOP JOB '49087E005D5D89FCD54D7CA8518FFA1B' WITH SAVEPOINT", 'stop-job', { jobId: '49087e005d5d89fcd54d7ca8518ffa1b' }],
    ['TRUNCATE TABLE t', 'truncate', { objectName: 't' }],
    ['DELETE FROM t WHERE id = 1', 'delete', { objectName: 't' }],
    ['UPDATE t SET a = 1', 'update', { objectName: 't' }],
    ['ANALYZE TABLE t COMPUTE STATISTICS', 'analyze'],
    ["CALL sys.compact('t')", 'call'],
    ["COMPILE PLAN '/tmp/p.json' FOR INSERT INTO s SELECT 1", 'compile-plan'],
    ['FROBNICATE everything', 'unknown', { sensitive: true }],
    ['', 'empty', { sensitive: false }],
    ['/* only a comment */ ;', 'empty'],
    [');', 'unknown'],
  ];
  for (const [sql, expected, extra] of table) {
    it(`${JSON.stringify(sql.slice(0, 60))} is ${expected}`, () => {
      const got = classifyStatement(sql);
      assert.equal(got.kind, expected);
      for (const [k, v] of Object.entries(extra ?? {})) assert.deepEqual(got[k as keyof typeof got], v, k);
    });
  }
  it('only queries and metadata reads are not sensitive', () => {
    assert.equal(classifyStatement('SELECT 1').sensitive, false);
    for (const s of ['INSERT INTO a SELECT 1', "ADD JAR 'x.jar'", "CREATE CATALOG c WITH ('type'='x')", "SET 'a'='b'", 'DROP TABLE t']) {
      assert.equal(classifyStatement(s).sensitive, true, s);
    }
  });
  it('never throws and always answers a known kind', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        assert.ok(typeof kind(s) === 'string');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('redactStatement', () => {
  const check = (sql: string, secret: string, keep: string[] = []) => {
    const r = redactStatement(sql);
    assert.ok(!r.text.includes(secret), `${secret} leaked: ${r.text}`);
    assert.ok(r.redacted > 0, 'nothing counted');
    for (const k of keep) assert.ok(r.text.includes(k), `${k} lost: ${r.text}`);
    return r.text;
  };
  it('hides secret WITH options and keeps the rest verbatim', () => {
    const text = check("CREATE TABLE t (id BIGINT) WITH ('connector'='datagen', 'password'='s3cr3t-abc', 'rows-per-second'='1')", 's3cr3t-abc', [
      "'connector'='datagen'",
      "'rows-per-second'='1'",
    ]);
    assert.equal(text, "CREATE TABLE t (id BIGINT) WITH ('connector'='datagen', 'password' = '******', 'rows-per-second'='1')");
  });
  it('hides SET values of secret keys, quoted or not', () => {
    assert.equal(redactStatement("SET 'fs.s3a.secret.key' = 'abc'").text, "SET 'fs.s3a.secret.key' = '******'");
    assert.equal(redactStatement('SET fs.s3a.secret.key=abc def;').text, 'SET fs.s3a.secret.key = ******;');
    assert.equal(redactStatement("SET 'parallelism.default' = '2'").redacted, 0);
  });
  it('hides catalog credentials, URL credentials, JDBC passwords, JAAS configs', () => {
    check("CREATE CATALOG pg WITH ('type'='jdbc','base-url'='jdbc:postgresql://admin:pgpw1@db:5432/','password'='pgpw2')", 'pgpw1');
    check("CREATE CATALOG pg WITH ('type'='jdbc','password'='pgpw2')", 'pgpw2');
    check("CREATE TABLE x (a INT) WITH ('url'='jdbc:mysql://h/db?user=u&password=jdbcpw&ssl=true')", 'jdbcpw', ['ssl=true']);
    check("CREATE TABLE k WITH ('properties.sasl.jaas.config'='PlainLoginModule required username=\"u\" password=\"jaaspw\";')", 'jaaspw');
    check("ADD JAR 'https://deploy:tok3n@repo.example/udf.jar'", 'tok3n', ['repo.example/udf.jar']);
    check("CREATE TABLE s3 WITH ('s3.access-key'='AKIAXX', 's3.secret-key'='sk1')", 'sk1');
    check("CREATE TABLE s3 WITH ('s3.access-key'='AKIAXX', 's3.secret-key'='sk1')", 'AKIAXX');
  });
  it('hides secrets in hints and comments, and in unterminated literals', () => {
    check("SELECT * FROM t /*+ OPTIONS('password'='hintpw') */", 'hintpw');
    check("INSERT INTO s SELECT * FROM t -- 'token'='commentpw'", 'commentpw');
    check("CREATE TABLE y WITH ('password'='unterminatedpw", 'unterminatedpw');
    check("CREATE TABLE y WITH ('password'='a''b''pw')", "a''b''pw");
  });
  it('leaves statements without secrets unchanged', () => {
    for (const s of ['SELECT 1', "CREATE TABLE t WITH ('connector'='blackhole')", "INSERT INTO a SELECT 'x=y' FROM b"]) {
      assert.deepEqual(redactStatement(s), { text: s, redacted: 0 });
    }
  });

  // Property: whatever the layout, a value under any secret key never survives — neither our
  // redaction nor the recorder's generic pass after it.
  const recorder = compileRedactor();
  const secretKeys = ['password', 'passwd', 'secret', 'token', 'client-secret', 's3.secret-key', 'fs.s3a.access.key', 'properties.sasl.jaas.config', 'api-key', 'credential', 'my.private_key', 'AUTHORIZATION'];
  const secretValue = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@?&= \'"'.split('')), minLength: 1, maxLength: 30 }).map((s) => `SeCrEt${s}`);
  const sp = fc.constantFrom('', ' ', '  ', '\n', '\t');
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  it('no secret survives any WITH / SET / hint layout (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...secretKeys), secretValue, sp, sp, fc.constantFrom('with', 'set', 'hint', 'alter', 'comment'), (key, value, a, b, form) => {
        // A line comment ends at a newline, so there the separators stay on one line.
        const [x, y] = form === 'comment' ? [a.replace('\n', ' '), b.replace('\n', ' ')] : [a, b];
        const pair = `${quote(key)}${x}=${y}${quote(value)}`;
        const sql =
          form === 'with'
            ? `CREATE TABLE t (id INT) WITH (${a}'connector'='datagen',${b}${pair}${a})`
            : form === 'set'
              ? `SET${a || ' '}${pair};`
              : form === 'hint'
                ? `SELECT * FROM t /*+ OPTIONS(${pair}) */`
                : form === 'alter'
                  ? `ALTER CATALOG c SET (${pair})`
                  : `SELECT 1 -- ${pair}`;
        const ours = redactStatement(sql).text;
        const stored = recorder.redact({ statement: ours }).statement;
        const core = value.slice('SeCrEt'.length);
        assert.ok(!ours.includes('SeCrEt'), `leaked by redactStatement: ${ours}`);
        assert.ok(!stored.includes('SeCrEt'), `leaked after the recorder: ${stored}`);
        // (unless the rest of the statement has those letters too: 'ropert' is in 'properties')
        if (core.length >= 6 && !sql.replace(quote(value), '').includes(core)) assert.ok(!stored.includes(core));
      }),
      { numRuns: 3000 },
    );
  });
  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (s) => {
        const r = redactStatement(s);
        assert.equal(typeof r.text, 'string');
      }),
      { numRuns: 2000 },
    );
  });
  it('uses the same secret-key rules as the recorder', () => {
    for (const p of DEFAULT_SECRET_KEY_PATTERNS.slice(0, 3)) assert.ok(redactStatement(`SET '${p}' = 'x'`).redacted === 1, p);
  });
});

describe('splitStatements', () => {
  it('splits at top-level semicolons, keeping statement sets whole', () => {
    const parts = splitStatements("SET 'a'='b;c'; CREATE TABLE x (a INT); BEGIN STATEMENT SET; INSERT INTO a SELECT 1; INSERT INTO b SELECT 1; END; -- bye");
    assert.equal(parts.length, 3);
    assert.equal(classifyStatement(parts[0]!).kind, 'set');
    assert.equal(classifyStatement(parts[2]!).kind, 'insert');
  });
});
