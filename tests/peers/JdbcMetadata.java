// A JDBC client that asks for metadata as IDEs do on connect: DatabaseMetaData.getTables and
// getColumns on one schema. Run as a single-file program:
//   java -cp /usr/share/java/postgresql.jar tests/peers/JdbcMetadata.java URL USER PASSWORD SCHEMA
// Prints one line per table ("table public.documents") and per column ("column
// public.documents.title text"); on a SQLException, "error SQLSTATE: message" and
// "detail: ..." and exit status 3.
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import org.postgresql.util.PSQLException;

public class JdbcMetadata {
  public static void main(String[] args) throws Exception {
    String url = args[0];
    String schema = args[3];
    try (Connection conn = DriverManager.getConnection(url, args[1], args[2])) {
      DatabaseMetaData md = conn.getMetaData();
      try (ResultSet rs = md.getTables(null, schema, "%", new String[] {"TABLE"})) {
        while (rs.next()) {
          System.out.println(
              "table " + rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME"));
        }
      }
      try (ResultSet rs = md.getColumns(null, schema, "%", "%")) {
        while (rs.next()) {
          System.out.println("column " + rs.getString("TABLE_SCHEM") + "."
              + rs.getString("TABLE_NAME") + "." + rs.getString("COLUMN_NAME") + " "
              + rs.getString("TYPE_NAME"));
        }
      }
    } catch (SQLException e) {
      System.out.println("error " + e.getSQLState() + ": " + e.getMessage().split("\n")[0]);
      if (e instanceof PSQLException && ((PSQLException) e).getServerErrorMessage() != null) {
        System.out.println("detail: " + ((PSQLException) e).getServerErrorMessage().getDetail());
      }
      System.exit(3);
    }
  }
}
