// pgjdbc through the gateway, for tests/e2e/test_driver_matrix.py.
//
// Usage: java -cp /usr/share/java/postgresql.jar JdbcMatrix.java URL USER PASSWORD TIMES
// Runs one prepared statement TIMES times (its parameter cycles 1, 2, 3), then a second
// parameterized query, on one connection; prints one JSON line per execution:
// {"exec": "<n>", "rows": [[id, name, email, score], ...]}. Any error ends it with status 1.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.util.Properties;

public class JdbcMatrix {
  static String quote(String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }

  static void print(String exec, ResultSet rs) throws Exception {
    ResultSetMetaData md = rs.getMetaData();
    StringBuilder out = new StringBuilder("{\"exec\": " + quote(exec) + ", \"rows\": [");
    boolean firstRow = true;
    while (rs.next()) {
      out.append(firstRow ? "[" : ", [");
      firstRow = false;
      for (int i = 1; i <= md.getColumnCount(); ++i) {
        out.append(i > 1 ? ", " : "");
        int type = md.getColumnType(i);
        if (type == java.sql.Types.INTEGER) {
          out.append(rs.getInt(i));
        } else {
          out.append(quote(rs.getString(i)));
        }
      }
      out.append("]");
    }
    System.out.println(out.append("]}"));
  }

  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", args[1]);
    props.setProperty("password", args[2]);
    int times = Integer.parseInt(args[3]);
    try (Connection conn = DriverManager.getConnection(args[0], props)) {
      try (PreparedStatement ps = conn.prepareStatement(
               "SELECT id, name, email, score FROM drv_customers WHERE id <= ? ORDER BY id")) {
        for (int i = 0; i < times; ++i) {
          ps.setInt(1, i % 3 + 1);
          try (ResultSet rs = ps.executeQuery()) {
            print(Integer.toString(i), rs);
          }
        }
      }
      try (PreparedStatement ps =
               conn.prepareStatement("SELECT email, name FROM drv_customers WHERE name = ?")) {
        ps.setString(1, "Ada");
        try (ResultSet rs = ps.executeQuery()) {
          print("param", rs);
        }
      }
    }
  }
}
