#!/usr/bin/perl
# Perl DBI with DBD::Pg through the gateway, for tests/e2e/test_driver_matrix.py.
#
# Usage: perl dbd_pg_matrix.pl PORT USER PASSWORD TIMES
# Runs one server-side prepared statement TIMES times (its parameter cycles 1, 2, 3), then a
# second parameterized query; prints one JSON line per execution:
# {"exec": "<n>", "rows": [[id, name, email, score], ...]}. Any error ends it with status 1.
use strict;
use warnings;
use DBI;
use JSON::PP;

my ($port, $user, $password, $times) = @ARGV;
my $dbh = DBI->connect("dbi:Pg:host=127.0.0.1;port=$port;dbname=kb;sslmode=require",
                       $user, $password,
                       { RaiseError => 1, PrintError => 0, AutoCommit => 1, pg_server_prepare => 1 });
my $json = JSON::PP->new->canonical;
my $sth = $dbh->prepare('SELECT id, name, email, score FROM drv_customers WHERE id <= ? ORDER BY id');
for my $i (0 .. $times - 1) {
  $sth->execute($i % 3 + 1);
  my $rows = $sth->fetchall_arrayref;
  for my $r (@$rows) {
    $r->[0] += 0;
    $r->[3] += 0;
  }
  print $json->encode({ exec => "$i", rows => $rows }), "\n";
}
my $param = $dbh->prepare('SELECT email, name FROM drv_customers WHERE name = ?');
$param->execute('Ada');
print $json->encode({ exec => 'param', rows => $param->fetchall_arrayref }), "\n";
$dbh->disconnect;
